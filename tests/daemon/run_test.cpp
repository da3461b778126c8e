// End-to-end tests of the real pgxqd binary (filled in below as the parts land).
#include <doctest/doctest.h>
