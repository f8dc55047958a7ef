#include "cli/config_file.h"

#include <filesystem>
#include <stdexcept>

namespace ej::cli {

void apply_config_file(CLI::App* command, const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error("--config " + path + ": no such file");
  }
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const std::exception& e) {
    throw std::runtime_error("--config " + path + ": " + e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section markers
    if (!item.parents.empty() &&
        !(item.parents.size() == 1 && item.parents[0] == command->get_name())) {
      throw std::runtime_error("--config " + path + ": unknown section [" + item.parents[0] + "]");
    }
    CLI::Option* opt = command->get_option_no_throw("--" + item.name);
    if (!opt || item.name == "config") {
      throw std::runtime_error("--config " + path + ": unknown key '" + item.name +
                               "' (see embedjobs " + command->get_name() + " --help)");
    }
    if (opt->count() > 0) continue;  // the command line or the environment set it
    try {
      opt->add_result(item.inputs);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      throw std::runtime_error("--config " + path + ": " + item.name + ": " + e.what());
    }
  }
}

}  // namespace ej::cli
