// Nothing here yet beyond the CUDA probe; the CPU backend's capabilities join it.
#include "backend/device_info.h"
