#include "apdu/reader.hpp"
