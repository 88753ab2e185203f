#pragma once
// A typed configuration struct and its declared parameters, written once: each field is added with its
// ParamDecl, so the same list gives the ParamDecls a task registers and reads resolved Params into the struct.
//
//   struct TrainConfig { int epochs = 10; double lr = 0.01; };
//   const ConfigFields<TrainConfig>& fields() {
//     static const auto f = ConfigFields<TrainConfig>()
//         .add(&TrainConfig::epochs, {"train.epochs", ParamType::Int, 10, "epochs"})
//         .add(&TrainConfig::lr, {"train.lr", ParamType::Float, 0.01, "SGD learning rate"});
//     return f;
//   }
//   TrainConfig c = fields().read(params);   // decls() goes to the registrar
#include <functional>
#include <string>
#include <vector>

#include "tedloc/params.hpp"

namespace tedloc {

template <class Config>
class ConfigFields {
 public:
  // A parameter read into `field` (its type converts from the JSON value, e.g. int64_t from Int).
  template <class T>
  ConfigFields&& add(T Config::*field, ParamDecl decl) && {
    readers_.push_back([field, name = decl.name](Config& c, const Params& p) { c.*field = p.get<T>(name); });
    decls_.push_back(std::move(decl));
    return std::move(*this);
  }
  // A parameter declared here but read elsewhere (a Plugin-typed one, made with RunContext::make).
  ConfigFields&& add(ParamDecl decl) && {
    decls_.push_back(std::move(decl));
    return std::move(*this);
  }

  const std::vector<ParamDecl>& decls() const { return decls_; }
  Config read(const Params& params) const {
    Config config;
    for (const auto& read_one : readers_) read_one(config, params);
    return config;
  }

 private:
  std::vector<ParamDecl> decls_;
  std::vector<std::function<void(Config&, const Params&)>> readers_;
};

}  // namespace tedloc
