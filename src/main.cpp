#include <iostream>

#include "surveyd/app/app.hpp"

int main(int argc, char** argv) {
  return surveyd::app::Run({argv + 1, argv + argc}, std::cin, std::cout, std::cerr);
}
