# Writes IN as a C++ byte array behind noodle::SYMBOL() -> std::string_view.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}
  "// Generated from ${IN}; do not edit.\n"
  "#include <string_view>\n"
  "namespace noodle {\n"
  "namespace { alignas(8) const unsigned char kData[] = {${bytes}}; }\n"
  "std::string_view ${SYMBOL}() {\n"
  "  return {reinterpret_cast<const char*>(kData), ${size}};\n"
  "}\n"
  "}  // namespace noodle\n")
