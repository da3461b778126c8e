// ABI check unit tests: every refusal, with the values on both sides and what to do.
#include <doctest/doctest.h>

#include "plugin/abi_check.hpp"

using namespace pgxq::plugin;

namespace {

int dummy_init(const pgxq_plugin_host*, pgxq_plugin*) { return 0; }

pgxq_plugin_descriptor good() { return PGXQ_PLUGIN_DESCRIPTOR_INIT("good", "1.0", dummy_init, nullptr); }

// This host's plugin ABI as its messages say it.
const std::string kHostAbi = "1." + std::to_string(PGXQ_PLUGIN_ABI_MINOR);

// A host of ABI 1.<minor>, as far as the check is concerned.
HostAbi host_1(uint32_t minor) { return HostAbi{1, minor, "9.9.9"}; }

std::string refusal(const pgxq_plugin_descriptor* d, const LoadedNames& loaded = {}, HostAbi host = {}) {
  auto r = check_abi("/plugins/x.so", d, loaded, host);
  REQUIRE(r.has_value());
  CHECK(r->find("/plugins/x.so") != std::string::npos);  // every refusal names the file
  return *r;
}

}  // namespace

TEST_CASE("abi: a well-formed descriptor is accepted") {
  auto d = good();
  CHECK(d.abi_minor == 0);  // the SDK's initializer requires no newer host by default
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}).has_value());
  d.shutdown = [](const pgxq_plugin_host*, pgxq_plugin*) {};
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}).has_value());
}

TEST_CASE("abi: a plugin requiring minor 0 is accepted by every host of the major") {
  auto d = good();
  d.abi_minor = 0;
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}, host_1(0)).has_value());
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}, host_1(3)).has_value());
}

TEST_CASE("abi: a plugin requiring minor N is accepted by hosts of minor N and newer") {
  auto d = good();
  d.abi_minor = 2;
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}, host_1(2)).has_value());
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}, host_1(5)).has_value());
  CHECK(check_abi("/plugins/x.so", &d, {}, host_1(1)).has_value());
}

TEST_CASE("abi: NULL descriptor") {
  auto r = refusal(nullptr);
  CHECK(r.find("returned NULL") != std::string::npos);
  CHECK(r.find("rebuild the plugin against pgxq plugin SDK " + kHostAbi) != std::string::npos);
}

TEST_CASE("abi: major mismatch names both versions and the SDK to rebuild against") {
  auto d = good();
  d.abi_major = 2;
  d.abi_minor = 4;
  auto r = refusal(&d, {}, host_1(0));
  CHECK(r.find("built for plugin ABI major 2 (it needs ABI 2.4)") != std::string::npos);
  CHECK(r.find("this pgxqd 9.9.9 provides plugin ABI 1.0") != std::string::npos);
  CHECK(r.find("major 2 != 1") != std::string::npos);
  CHECK(r.find("rebuild the plugin against pgxq plugin SDK 1.0, or run it on a pgxqd that provides plugin ABI 2.x") !=
        std::string::npos);

  d.abi_major = 0;
  CHECK(refusal(&d).find("major 0 != 1") != std::string::npos);
}

TEST_CASE("abi: a plugin requiring a newer minor than the host's is refused, saying what to do") {
  auto d = good();
  d.abi_minor = 3;
  auto r = refusal(&d, {}, host_1(2));
  CHECK(r.find("the plugin needs plugin ABI 1.3 or newer (its descriptor requires host ABI minor 3)") !=
        std::string::npos);
  CHECK(r.find("this pgxqd 9.9.9 provides plugin ABI 1.2 (minor 3 > 2)") != std::string::npos);
  CHECK(r.find("upgrade pgxqd to a release that provides plugin ABI 1.3") != std::string::npos);
  CHECK(r.find("or rebuild the plugin without PGXQ_PLUGIN_REQUIRES_MINOR 3 (checking newer host functions with "
               "PGXQ_HOST_HAS) so that it runs on ABI 1.2") != std::string::npos);
}

TEST_CASE("abi: the refusal names the running pgxqd's version by default") {
  auto d = good();
  d.abi_minor = PGXQ_PLUGIN_ABI_MINOR + 1;
  CHECK(refusal(&d).find("this pgxqd " PGXQ_VERSION " provides plugin ABI " + kHostAbi) != std::string::npos);
}

TEST_CASE("abi: struct_size smaller than the 1.0 descriptor is refused before reading further") {
  auto d = good();
  d.struct_size = 12;
  d.name = nullptr;  // must not be read: the size says it is not there
  auto r = refusal(&d);
  CHECK(r.find("struct_size is 12 bytes") != std::string::npos);
  CHECK(r.find(std::to_string(kDescriptorV1Size) + " bytes of an ABI 1.0 descriptor") != std::string::npos);
  CHECK(r.find("rebuild the plugin against pgxq plugin SDK " + kHostAbi) != std::string::npos);
}

TEST_CASE("abi: a descriptor larger than the host's (a newer SDK appended fields) is accepted") {
  auto d = good();
  d.struct_size = sizeof(pgxq_plugin_descriptor) + 8;
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}).has_value());
  d.struct_size = kDescriptorMaxSize;
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}).has_value());
}

TEST_CASE("abi: a struct_size no descriptor can have is refused") {
  auto d = good();
  d.struct_size = kDescriptorMaxSize + 1;
  auto r = refusal(&d);
  CHECK(r.find("struct_size is " + std::to_string(kDescriptorMaxSize + 1) + " bytes, more than the " +
               std::to_string(kDescriptorMaxSize) + " bytes any descriptor can have") != std::string::npos);
  CHECK(r.find("the descriptor was not built from pgxq/plugin.h") != std::string::npos);
}
TEST_CASE("abi: name must be present, non-empty and well-formed") {
  auto d = good();
  d.name = nullptr;
  CHECK(refusal(&d).find("has no name") != std::string::npos);
  d.name = "";
  CHECK(refusal(&d).find("has no name") != std::string::npos);
  d.name = "has space";
  CHECK(refusal(&d).find("name \"has space\" is not 1..64 characters of [A-Za-z0-9_-]") != std::string::npos);
  d.name = "a.b";
  CHECK(refusal(&d).find("is not 1..64 characters") != std::string::npos);
  std::string longname(65, 'a');
  d.name = longname.c_str();
  CHECK(refusal(&d).find("is not 1..64 characters") != std::string::npos);
  std::string max(64, 'a');
  d.name = max.c_str();
  CHECK_FALSE(check_abi("/plugins/x.so", &d, {}).has_value());
}

TEST_CASE("abi: version and init must be set") {
  auto d = good();
  d.version = nullptr;
  CHECK(refusal(&d).find("NULL version") != std::string::npos);
  d = good();
  d.init = nullptr;
  CHECK(refusal(&d).find("has no init function") != std::string::npos);
}

TEST_CASE("abi: plugin names are unique, the refusal names both files") {
  auto d = good();
  LoadedNames loaded{{"good", "/plugins/a.so"}};
  auto r = refusal(&d, loaded);
  CHECK(r.find("plugin name \"good\" is already used by /plugins/a.so") != std::string::npos);
  CHECK(r.find("remove one of the two files") != std::string::npos);
}
