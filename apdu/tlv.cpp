#include "apdu/tlv.hpp"
