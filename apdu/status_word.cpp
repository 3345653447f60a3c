#include "apdu/status_word.hpp"
