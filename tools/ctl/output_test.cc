#include <sstream>

#include "gtest/gtest.h"
#include "tools/ctl/records.h"
#include "tools/ctl/table.h"

namespace concordance::ctl {
namespace {

TEST(OutputTest, AnEntryIsPrintedAsTheRestApiShowsIt) {
  v1::Entry e;
  e.set_namespace_("tenant:acme/settings");
  e.set_key("theme");
  e.set_value("{\"mode\":\"dark\"}");
  e.set_version(2);
  e.set_updated_by("api");
  e.set_updated_at(1795490389862);
  EXPECT_EQ(Json([&](JsonWriter& w) { WriteEntry(w, e); }),
            "{\"namespace\":\"tenant:acme/settings\",\"key\":\"theme\","
            "\"value\":{\"mode\":\"dark\"},\"version\":2,\"updatedBy\":\"api\","
            "\"updatedAt\":1795490389862,\"expiresAt\":null}");
}

TEST(OutputTest, AChangeAsAWatchNotificationCarriesIt) {
  v1::ChangeEvent c;
  c.set_seq(8);
  c.set_op("delete");
  c.set_namespace_("tenant:acme/s");
  c.set_key("k");
  c.set_version(1);
  c.set_actor("api");
  c.set_timestamp(1000);
  c.set_tenant_id("acme");
  EXPECT_EQ(Json([&](JsonWriter& w) { WriteChange(w, c); }),
            "{\"seq\":8,\"op\":\"delete\",\"namespace\":\"tenant:acme/s\","
            "\"key\":\"k\",\"value\":null,\"version\":1,\"actor\":\"api\","
            "\"timestamp\":1000,\"tenantId\":\"acme\"}");
  EXPECT_EQ(ChangeLine(c), "8 delete tenant:acme/s k v1");
  c.set_op("set");
  c.set_value("\"dark\"");
  EXPECT_EQ(ChangeLine(c), "8 set tenant:acme/s k v1 \"dark\"");
}

TEST(OutputTest, TablesAlignColumnsByCharacters) {
  Table t({"KEY", "VALUE"});
  t.AddRow({"thème", "1"});
  t.AddRow({"k", "22"});
  std::ostringstream out;
  t.Print(out);
  EXPECT_EQ(out.str(), "KEY    VALUE\nthème  1\nk      22\n");
}

TEST(OutputTest, TimesAreUtcWithMilliseconds) {
  EXPECT_EQ(Time(0), "-");
  EXPECT_EQ(Time(1795490389862), "2026-11-24T03:19:49.862Z");
}

}  // namespace
}  // namespace concordance::ctl
