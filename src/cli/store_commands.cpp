#include "cli/store_commands.h"

#include <iostream>
#include <memory>

#include "cli/exit_codes.h"
#include "common/error.h"
#include "store/store.h"

namespace ej::cli {

CLI::Option* add_store_option(CLI::App* cmd, std::string* url) {
  return cmd
      ->add_option("--store", *url,
                   "The store: sqlite:PATH, or postgres://USER[:PASSWORD]@HOST[:PORT]/DB to share "
                   "one PostgreSQL between many processes (default: sqlite:DATA_DIR/embedjobs.db)")
      ->envname("EMBEDJOBS_STORE");
}

std::function<int()> register_migrate_command(CLI::App& app) {
  struct Options {
    std::string store;
    std::string data_dir = "./data";
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "migrate", "Bring the store's schema to this version (what every start does) and exit");
  add_store_option(cmd, &o->store);
  cmd->add_option("--data-dir", o->data_dir, "Where the default SQLite store lives")
      ->envname("EMBEDJOBS_DATA_DIR")
      ->capture_default_str();
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    try {
      std::cout << store::migrate_store(o->store, o->data_dir + "/embedjobs.db") << std::endl;
      return kExitOk;
    } catch (const Error& e) {
      std::cerr << "embedjobs migrate: " << e.what() << "\n";
      return e.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitError;
    }
  };
}

}  // namespace ej::cli
