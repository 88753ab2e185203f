// `tedloc data <dataset>`: dataset generators on the command line.
#include <boost/program_options.hpp>

#include <iostream>

#include "tedloc/commands/commands.hpp"
#include "tedloc/data/fashion_wsol.hpp"
#include "tedloc/error.hpp"

namespace po = boost::program_options;

namespace tedloc::data {

namespace {

constexpr const char* kUsage = "usage: tedloc data fashion-wsol --out DIR [options]\n";

int fashion_wsol_command(const std::vector<std::string>& args) {
  FashionWsolOptions o;
  po::options_description desc(
      "tedloc data fashion-wsol: a WSOL dataset (Choe et al.'s metadata layout) of Fashion-MNIST items\n"
      "pasted on cluttered canvases, with exact boxes. Options");
  desc.add_options()("help,h", "print this help")
      ("out", po::value(&o.out_dir)->required(), "output folder (images/ and metadata/FashionWSOL/)")
      ("seed", po::value(&o.seed)->default_value(o.seed), "random seed (same seed, same bytes)")
      ("canvas", po::value(&o.canvas)->default_value(o.canvas), "canvas side in pixels")
      ("train", po::value(&o.train)->default_value(o.train), "train images (class-balanced)")
      ("val", po::value(&o.val)->default_value(o.val), "val images")
      ("test", po::value(&o.test)->default_value(o.test), "test images")
      ("fashion-dir", po::value(&o.fashion_dir)->default_value(o.fashion_dir),
       "folder of the Fashion-MNIST IDX .gz files; procedural stand-ins when absent")
      ("min-scale", po::value(&o.min_scale)->default_value(o.min_scale), "smallest item side / canvas side")
      ("max-scale", po::value(&o.max_scale)->default_value(o.max_scale), "largest item side / canvas side")
      ("masks", po::bool_switch(&o.write_masks), "also write the item masks to <out>/masks/<id>")
      ("threads", po::value(&o.num_threads)->default_value(o.num_threads), "worker threads");
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).run(), vm);
  if (vm.count("help")) {
    std::cout << kUsage << desc << "\n";
    return kExitOk;
  }
  po::notify(vm);
  const FashionWsolSummary s = generate_fashion_wsol(o);
  std::cout << "fashion-wsol: " << s.images << " images (" << s.source << " items) in " << s.image_root
            << ", metadata in " << s.metadata_dir << "\n";
  return kExitOk;
}

}  // namespace

int data_command(const std::vector<std::string>& args) {
  try {
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      std::cout << kUsage << "datasets: fashion-wsol (run with --help for its options)\n";
      return args.empty() ? kExitUsage : kExitOk;
    }
    if (args[0] == "fashion-wsol") return fashion_wsol_command({args.begin() + 1, args.end()});
    throw UsageError("unknown dataset '" + args[0] + "' (known: fashion-wsol)");
  } catch (const po::error& e) {
    std::cerr << "tedloc data: " << e.what() << "\n" << kUsage;
    return kExitUsage;
  } catch (const UsageError& e) {
    std::cerr << "tedloc data: " << e.what() << "\n";
    return kExitUsage;
  } catch (const InputError& e) {
    std::cerr << "tedloc data: " << e.what() << "\n";
    return kExitBadInput;
  }
}

}  // namespace tedloc::data
