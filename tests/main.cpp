// Catch2 entry point (the only TU that compiles Catch's runner).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
