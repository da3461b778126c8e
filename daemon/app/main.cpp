// pgxqd's entry point. All behaviour lives in app/ (cli.cpp dispatches the commands).
#include "app/cli.hpp"

int main(int argc, char** argv) { return pgxq::app::main_entry(argc, argv); }
