#include "key_commands.h"

#include <iostream>
#include <memory>

#include "exit_codes.h"
#include "noodle/bus/keys.h"
#include "print.h"

namespace noodle::tools {

void AddKeyCommands(CLI::App& app, int* exit_code) {
  auto* keys = app.add_subcommand("keys", "CURVE key pairs for the bus");
  keys->require_subcommand(1);
  struct Flags {
    std::string out, name, roles;
  };
  auto f = std::make_shared<Flags>();
  auto* gen = keys->add_subcommand(
      "generate", "Write a key pair: PREFIX.key (secret, mode 0600) and PREFIX.pub; print the daemon's keys-file line");
  gen->add_option("--out", f->out, "File prefix (PREFIX.key and PREFIX.pub are created; existing files are kept)")
      ->required();
  gen->add_option("--name", f->name, "Principal name for the keys-file line (default: the prefix's file name)");
  gen->add_option("--roles", f->roles, "Roles for the keys-file line: observer, operator, admin, agent")
      ->default_val("observer");
  gen->callback([=] {
    auto pair = bus::GenerateKeyPair();
    if (!pair.ok()) {
      *exit_code = Fail(pair.status());
      return;
    }
    if (Status s = bus::WriteKeyPair(f->out, *pair); !s.ok()) {
      *exit_code = Fail(s.IsConflict() ? Status::InvalidArgument(s.message()) : s);
      return;
    }
    const std::string name =
        !f->name.empty() ? f->name : f->out.substr(f->out.find_last_of('/') == std::string::npos ? 0 : f->out.find_last_of('/') + 1);
    std::cerr << "wrote " << f->out << ".key (secret, mode 0600) and " << f->out << ".pub\n"
              << "add this line to the daemon's keys file, then send it SIGHUP:\n";
    std::cout << f->roles << " " << name << " " << pair->public_key << "\n";
    *exit_code = kExitOk;
  });
}

}  // namespace noodle::tools
