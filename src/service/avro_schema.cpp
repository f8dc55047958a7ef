#include "service/avro_schema.h"

#include <map>

#include "common/error.h"

namespace ej::service::detail {
namespace {

using Kind = AvroNode::Kind;
using nlohmann::json;

class TreeBuilder {
 public:
  explicit TreeBuilder(AvroSchemaTree* tree) : tree_(tree) {}

  const AvroNode* build(const json& s, const std::string& ns) {
    if (s.is_string()) return named_or_primitive(s.get<std::string>(), ns);
    if (s.is_array()) {
      AvroNode* n = add(Kind::kUnion);
      for (const auto& b : s) {
        const AvroNode* c = build(b, ns);
        if (c->kind == Kind::kNull && n->null_branch < 0) n->null_branch = int(n->children.size());
        n->children.push_back(c);
      }
      if (n->children.empty()) bad("empty union");
      return n;
    }
    if (!s.is_object() || !s.contains("type")) bad("a type must be a string, array or object");
    const json& t = s["type"];
    if (!t.is_string()) return build(t, ns);
    const std::string type = t.get<std::string>();
    if (type == "array") {
      AvroNode* n = add(Kind::kArray);
      n->children.push_back(build(s.at("items"), ns));
      return n;
    }
    if (type == "map") {
      AvroNode* n = add(Kind::kMap);
      n->children.push_back(build(s.at("values"), ns));
      return n;
    }
    if (type == "record" || type == "error" || type == "enum" || type == "fixed") {
      std::string name = s.value("name", "");
      std::string child_ns = s.contains("namespace") && s["namespace"].is_string()
                                 ? s["namespace"].get<std::string>()
                                 : ns;
      std::string full = name;
      if (name.find('.') == std::string::npos && !child_ns.empty()) full = child_ns + "." + name;
      if (name.find('.') != std::string::npos) child_ns = name.substr(0, name.rfind('.'));
      if (type == "enum") {
        AvroNode* n = add(Kind::kEnum);
        for (const auto& sym : s.at("symbols")) n->names.push_back(sym.get<std::string>());
        named_[full] = n;
        return n;
      }
      if (type == "fixed") {
        AvroNode* n = add(Kind::kFixed);
        n->fixed_size = s.at("size").get<size_t>();
        named_[full] = n;
        return n;
      }
      AvroNode* n = add(Kind::kRecord);
      named_[full] = n;
      for (const auto& f : s.at("fields")) {
        n->names.push_back(f.at("name").get<std::string>());
        n->children.push_back(build(f.at("type"), child_ns));
      }
      return n;
    }
    return named_or_primitive(type, ns);
  }

 private:
  AvroNode* add(Kind k) {
    tree_->nodes.push_back(std::make_unique<AvroNode>());
    tree_->nodes.back()->kind = k;
    return tree_->nodes.back().get();
  }
  const AvroNode* named_or_primitive(const std::string& name, const std::string& ns) {
    static const std::map<std::string, Kind> kPrims = {
        {"null", Kind::kNull},     {"boolean", Kind::kBoolean}, {"int", Kind::kInt},
        {"long", Kind::kLong},     {"float", Kind::kFloat},     {"double", Kind::kDouble},
        {"string", Kind::kString}, {"bytes", Kind::kBytes}};
    auto p = kPrims.find(name);
    if (p != kPrims.end()) return add(p->second);
    auto it = named_.find(name);
    if (it == named_.end() && !ns.empty()) it = named_.find(ns + "." + name);
    if (it == named_.end()) bad("unknown type \"" + name + "\"");
    return it->second;
  }
  [[noreturn]] static void bad(const std::string& msg) {
    throw Error(ErrorCode::kInvalidArgument, "invalid avro schema: " + msg);
  }

  AvroSchemaTree* tree_;
  std::map<std::string, const AvroNode*> named_;
};

}  // namespace

std::shared_ptr<const AvroSchemaTree> compile_schema(const json& schema) {
  auto tree = std::make_shared<AvroSchemaTree>();
  TreeBuilder b(tree.get());
  tree->root = b.build(schema, "");
  return tree;
}

}  // namespace ej::service::detail
