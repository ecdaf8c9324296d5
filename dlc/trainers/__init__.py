"""dlc.trainers: compile, the train/test/predict steps and the fit/evaluate/predict loops."""
