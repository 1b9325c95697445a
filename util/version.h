// What this build is: the release version (the file VERSION at the top of
// the repository) and the git commit it was built from ("unknown" outside
// a checkout). `concordance --version`, Cluster.Status and
// concordance_build_info in /metrics report them (design.md §14).
#ifndef CONCORDANCE_UTIL_VERSION_H_
#define CONCORDANCE_UTIL_VERSION_H_

namespace concordance {

const char* Version();
const char* Commit();

}  // namespace concordance

#endif  // CONCORDANCE_UTIL_VERSION_H_
