#include "apdu/response.hpp"
