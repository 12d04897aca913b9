#include "daemon/cli.h"

int main(int argc, char** argv) { return gitsyncd::RunCli(argc, argv); }
