// UTF-8 on the admin socket (dom0-tools/common/admin_utf8.h), and the
// protobuf runtime's own behaviour that the design rests on.
#include <gtest/gtest.h>

#include <string>

#include "admin.pb.h"
#include "admin_utf8.h"

namespace A = pv::admin;

TEST(AdminUtf8, ValidationFollowsTheStandard) {
  EXPECT_TRUE(A::is_valid_utf8(""));
  EXPECT_TRUE(A::is_valid_utf8("plain ascii"));
  EXPECT_TRUE(A::is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_EQ(A::first_invalid_utf8("caf\xe9"), 3u);         // Latin-1
  EXPECT_EQ(A::first_invalid_utf8("\xc0\xaf"), 0u);        // overlong '/'
  EXPECT_EQ(A::first_invalid_utf8("a\xe0\x80\xaf"), 1u);   // overlong, 3 bytes
  EXPECT_EQ(A::first_invalid_utf8("\xed\xa0\x80"), 0u);    // a surrogate
  EXPECT_EQ(A::first_invalid_utf8("\xf4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(A::first_invalid_utf8("ok\xe2\x82"), 2u);      // truncated
  EXPECT_EQ(A::first_invalid_utf8(std::string("\x80", 1)), 0u);  // a lone continuation byte
}

TEST(AdminUtf8, RepairAndEscape) {
  EXPECT_EQ(A::to_valid_utf8("caf\xe9!"), "caf\xef\xbf\xbd!");
  EXPECT_EQ(A::to_valid_utf8("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(A::escape_bytes("a\xff\n\\"), "a\\xff\\x0a\\x5c");
}

// What the design is for: protobuf 3.21's C++ runtime writes a proto3
// string with invalid bytes (logging an error) but refuses to parse it, so
// a sender that does not check makes an unparsable message.
TEST(AdminUtf8, TheProtobufRuntimeSerializesWhatItWillNotParse) {
  A::Request bad;
  bad.mutable_info()->set_name_or_id("caf\xe9");
  std::string wire;
  ASSERT_TRUE(bad.SerializeToString(&wire));
  A::Request back;
  EXPECT_FALSE(back.ParseFromString(wire));
  EXPECT_EQ(A::invalid_utf8_field(*A::Request::descriptor(), wire), "pv.admin.DomainRef.name_or_id");
  EXPECT_EQ(A::invalid_utf8_field(bad), "pv.admin.DomainRef.name_or_id");
}

TEST(AdminUtf8, FieldsAreFoundInNestedAndRepeatedMessages) {
  A::Reply r;
  r.mutable_list()->add_domains()->set_name("good");
  r.mutable_list()->add_domains()->set_shutdown_reason("guest wrote \xff");
  EXPECT_EQ(A::invalid_utf8_field(r), "pv.admin.DomainInfo.shutdown_reason");
  EXPECT_EQ(A::make_strings_valid(r), 1u);
  EXPECT_EQ(A::invalid_utf8_field(r), "");
  EXPECT_EQ(r.list().domains(1).shutdown_reason(), "guest wrote \xef\xbf\xbd");
  A::Reply back;
  EXPECT_TRUE(back.ParseFromString(r.SerializeAsString()));  // the repaired reply parses
  A::Request good;
  good.mutable_create()->set_config_text("name = \"caf\xc3\xa9\"\n");
  EXPECT_EQ(A::invalid_utf8_field(*A::Request::descriptor(), good.SerializeAsString()), "");
}

TEST(AdminUtf8, MalformedWireIsNotTakenForBadUtf8) {
  EXPECT_EQ(A::invalid_utf8_field(*A::Request::descriptor(), "\x12\x40truncated"), "");
  EXPECT_EQ(A::invalid_utf8_field(*A::Request::descriptor(), "\xff\xff\xff"), "");
}
