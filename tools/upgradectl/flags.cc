#include "flags.h"

#include "time_text.h"

namespace noodle::tools {

CLI::Option* AddDurationOption(CLI::App* cmd, const std::string& name, int64_t* ns, const std::string& help) {
  const int64_t initial = *ns;
  auto* o = cmd->add_option_function<std::string>(
      name,
      [ns, name](const std::string& text) {
        if (text == "0") {
          *ns = 0;
          return;
        }
        auto d = ParseDurationNs(text);
        if (!d.ok()) throw CLI::ValidationError(name, d.status().message());
        *ns = d.value();
      },
      help);
  o->type_name("DURATION");
  if (initial > 0) o->default_str(HumanDuration(initial));
  return o;
}

}  // namespace noodle::tools
