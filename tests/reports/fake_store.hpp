#pragma once
// A real SQLite store holding a fake Table 2 experiment: losses kd, kd_pcl, kd_pcl_icl x seeds 1..3 done,
// one more kd run failed and one kd_pcl_icl run left pending. Values are chosen so that the
// expected means and sample stds are easy to work out by hand (see fake_store.cpp).
#include <cstdint>
#include <map>
#include <string>

#include "tedloc/store.hpp"

namespace tedloc::testing {

struct FakeTable2 {
  std::int64_t experiment = 0;
  std::map<std::string, std::int64_t> run_of;  // "kd/1" -> run id (done runs only)
  std::int64_t failed_run = 0;
};

// test/maxboxacc_50 of the done runs, by loss and seed.
double fake_maxboxacc(const std::string& loss, int seed);

FakeTable2 make_fake_table2(Store& store);

}  // namespace tedloc::testing
