#include <cstdio>
int main() { std::puts("cvtool"); return 0; }
