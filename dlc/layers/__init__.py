"""dlc.layers: Keras-compatible layers (channels-last), each a thin wrapper over C kernels."""
from dlc.layers.base import KerasTensor, Layer
from dlc.layers.conv import Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from dlc.layers.core import (
    ELU, Activation, Dense, Dropout, Flatten, Input, InputLayer, LeakyReLU, ReLU, Reshape, Softmax,
)
from dlc.layers.merge import (
    Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, TensorOp, add, average, concatenate,
    maximum, minimum, multiply, subtract,
)
from dlc.layers.normalization import BatchNormalization
from dlc.layers.preprocessing import (
    CenterCrop, Normalization, RandomBrightness, RandomContrast, RandomCrop, RandomFlip, RandomRotation,
    RandomTranslation, RandomZoom, Rescaling, Resizing,
)
from dlc.layers.reshaping import UpSampling2D, ZeroPadding2D
from dlc.layers.pooling import (
    AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D,
)

# Keras aliases
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
Convolution2D = Conv2D

# Locally connected, regularisation, normalisation and Lambda layers
from dlc.layers.dropconnect import DropConnect  # noqa: E402
from dlc.layers.lambda_layer import Lambda  # noqa: E402
from dlc.layers.layer_normalization import LayerNormalization  # noqa: E402
from dlc.layers.locally_connected import LocallyConnected2D  # noqa: E402
from dlc.layers.regularization import (  # noqa: E402
    GaussianDropout, GaussianNoise, SpatialDropout1D, SpatialDropout2D, SpatialDropout3D,
)

__all__ = [
    "Activation", "Add", "AveragePooling2D", "AvgPool2D", "Average", "BatchNormalization",
    "Concatenate", "Conv2D", "Conv2DTranspose", "Convolution2D", "DepthwiseConv2D", "Dense", "Dropout", "ELU", "Flatten",
    "GlobalAveragePooling2D", "GlobalAvgPool2D", "GlobalMaxPool2D", "GlobalMaxPooling2D", "Input",
    "InputLayer", "KerasTensor", "Layer", "LeakyReLU", "MaxPool2D", "MaxPooling2D", "Maximum",
    "Minimum", "Multiply", "ReLU", "TensorOp",
    "CenterCrop", "Normalization", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip",
    "RandomRotation", "RandomTranslation", "RandomZoom", "Rescaling", "Resizing", "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract", "Reshape", "SeparableConv2D", "Softmax", "Subtract", "UpSampling2D", "ZeroPadding2D",
]
__all__ += ["DropConnect", "GaussianDropout", "GaussianNoise", "Lambda", "LayerNormalization",
            "LocallyConnected2D", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"]


from dlc._registry import module_namespace  # noqa: E402

# a name this module lacks: say so, and name the nearest ones; dir() lists the public names
__getattr__, __dir__ = module_namespace(__name__, globals())
