#include "apdu/trace.hpp"
