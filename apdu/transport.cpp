#include "apdu/transport.hpp"
