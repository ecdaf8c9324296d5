/* fault.c - the text of each dlc_fault (see dlc.h): which shape condition a check found false. */
#include "dlc.h"

const char *dlc_fault_text(dlc_fault fault) {
    switch (fault) {
    case DLC_FAULT_NONE: return "";
    case DLC_FAULT_NULL: return "the shape pointer is NULL";
    case DLC_FAULT_INPUT: return "an input size is < 1";
    case DLC_FAULT_WINDOW: return "a window size (kernel or pool) is < 1";
    case DLC_FAULT_STRIDE: return "a stride or dilation is < 1";
    case DLC_FAULT_PADDING: return "a pad is < 0 or, for pooling, not smaller than the window";
    case DLC_FAULT_GROUPS: return "groups is < 1 or does not divide the channel counts";
    case DLC_FAULT_RANGE: return "a size is beyond the kernel's index range";
    case DLC_FAULT_FIT: return "the (dilated) window is larger than the padded input";
    case DLC_FAULT_OUTPUT: return "the output size differs from the formula's";
    }
    return "unknown fault";
}
