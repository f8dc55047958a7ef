// OpenAiFileRef: an OpenAI file as the service layer finds it (openai_files.h): the dataset
// behind it and which of the dataset's views the file is. Plain value.
#pragma once

#include "store/store.h"

namespace ej::service {

// A file and which of its dataset's views it is.
struct OpenAiFileRef {
  store::DatasetRow row;
  enum class View { kInput, kOutput, kError } view = View::kInput;
};

}  // namespace ej::service
