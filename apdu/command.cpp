#include "apdu/command.hpp"
