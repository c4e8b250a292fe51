#include "config/xl_syntax.h"

#include <gtest/gtest.h>

using namespace pv::config;

namespace {

SyntaxResult ok(std::string_view text) {
  SyntaxResult r = parse_xl_syntax(text, "t.cfg");
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  return r;
}

Diagnostic first_error(std::string_view text) {
  SyntaxResult r = parse_xl_syntax(text, "t.cfg");
  EXPECT_FALSE(r.errors.empty()) << text;
  return r.errors.empty() ? Diagnostic{} : r.errors[0];
}

}  // namespace

TEST(XlSyntax, BothQuoteStylesNumbersAndComments) {
  auto r = ok("# a comment\n\nname = \"a\" # trailing\nkernel='/k'\nmemory=512\n");
  ASSERT_EQ(r.settings.size(), 3u);
  EXPECT_EQ(r.find("name")->value.text, "a");
  EXPECT_TRUE(r.find("name")->value.quoted);
  EXPECT_EQ(r.find("kernel")->value.text, "/k");
  EXPECT_EQ(r.find("memory")->value.text, "512");
  EXPECT_FALSE(r.find("memory")->value.quoted);
  EXPECT_EQ(r.find("memory")->line, 5);
}

TEST(XlSyntax, SemicolonSeparatesSettings) {
  auto r = ok("name=\"h0\"; type=\"pvh\"");
  EXPECT_EQ(r.find("type")->value.text, "pvh");
}

TEST(XlSyntax, NoFinalNewlineAndFinalComment) {
  ok("a = 1");
  ok("a = 1\n# end");
}

TEST(XlSyntax, CrLfLineEnds) {
  auto r = ok("a = 1\r\nb = \"x\"\r\n");
  EXPECT_EQ(r.find("b")->line, 2);
}

TEST(XlSyntax, MultiLineListsWithTrailingCommaAndComments) {
  auto r = ok("disk = [\n  'a', # first\n\n  \"b\",\n]\nx = []\ny = [\n]\n");
  const auto& d = r.find("disk")->value;
  ASSERT_TRUE(d.is_list());
  ASSERT_EQ(d.items.size(), 2u);
  EXPECT_EQ(d.items[0].text, "a");
  EXPECT_EQ(d.items[0].line, 2);
  EXPECT_EQ(d.items[1].line, 4);
  EXPECT_TRUE(r.find("x")->value.items.empty());
  EXPECT_TRUE(r.find("y")->value.items.empty());
}

TEST(XlSyntax, NestedLists) {
  auto r = ok("vnuma = [ [\"pnode=0\", \"size=512\"], [\"pnode=1\"] ]");
  ASSERT_EQ(r.find("vnuma")->value.items.size(), 2u);
  EXPECT_TRUE(r.find("vnuma")->value.items[0].is_list());
}

TEST(XlSyntax, Escapes) {
  auto r = ok(R"(a = "q\"q\\b\n\t" ; b = 'it\'s' ; c = "\x41\101" ; d = 'say "hi"')");
  EXPECT_EQ(r.find("a")->value.text, "q\"q\\b\n\t");
  EXPECT_EQ(r.find("b")->value.text, "it's");
  EXPECT_EQ(r.find("c")->value.text, "AA");
  EXPECT_EQ(r.find("d")->value.text, "say \"hi\"");
}

TEST(XlSyntax, DuplicateKeyLastWinsWithWarning) {
  auto r = ok("memory = 512\nmemory = 1024\n");
  EXPECT_EQ(r.find("memory")->value.text, "1024");
  EXPECT_EQ(r.find("memory")->line, 2);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].line, 2);
}

TEST(XlSyntax, AppendConcatenates) {
  auto r = ok("extra = \"a\"\nextra += \" b\"\ndisk = ['x']\ndisk += ['y', 'z']\nnew += 'n'\n");
  EXPECT_EQ(r.find("extra")->value.text, "a b");
  EXPECT_EQ(r.find("disk")->value.items.size(), 3u);
  EXPECT_EQ(r.find("new")->value.text, "n");
  EXPECT_TRUE(r.find("extra")->appended);
}

TEST(XlSyntax, AppendTypeMismatchIsError) {
  auto e = first_error("disk = ['x']\ndisk += 'y'\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_EQ(e.key, "disk");
}

TEST(XlSyntax, Errors) {
  EXPECT_EQ(first_error("a = 1\nb = \"open\n").line, 2);
  EXPECT_EQ(first_error("a = 1\nb = \"open\n").key, "b");
  EXPECT_EQ(first_error("Name = \"x\"\n").line, 1);           // keys are lower case
  EXPECT_EQ(first_error("a = lots\n").key, "a");              // unquoted string
  EXPECT_EQ(first_error("a = 512M\n").key, "a");              // not xl's NUMBER
  EXPECT_EQ(first_error("a = -5\n").key, "a");                // xl: '-' is a lexical error
  EXPECT_EQ(first_error("a = \"x\" \"y\"\n").key, "a");
  EXPECT_EQ(first_error("a = \n").key, "a");
  EXPECT_EQ(first_error("a 1\n").key, "a");
  EXPECT_EQ(first_error("a = \"bad \\q escape\"\n").key, "a");
  EXPECT_EQ(first_error("a = \"nul \\0\"\n").key, "a");
  EXPECT_EQ(first_error("a = [ 'x' 'y' ]\n").key, "a");
  auto unclosed = first_error("a = 1\ndisk = [ 'x',\n 'y'\n");
  EXPECT_EQ(unclosed.line, 2);
  EXPECT_EQ(unclosed.key, "disk");
}

TEST(XlSyntax, RecoversAtNextSettingAndReportsEachError) {
  auto r = parse_xl_syntax("a = lots\nb = 1\nc = \"x\" y\nd = [ 'x'\n 'y' ]\ne = 2\n", "t.cfg");
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].line, 1);
  EXPECT_EQ(r.errors[1].line, 3);
  EXPECT_EQ(r.errors[2].line, 5);
}

TEST(XlSyntax, QuoteRoundTrips) {
  for (std::string s : {"plain", "with \"dq\" and 'sq'", "back\\slash", "tab\tnl\ncr\r", "\x01\x7f",
                        "utf-8 \xc3\xa9", ""}) {
    auto r = parse_xl_syntax("k = " + quote_xl_string(s) + "\n", "t.cfg");
    ASSERT_TRUE(r.errors.empty()) << quote_xl_string(s);
    EXPECT_EQ(r.find("k")->value.text, s);
  }
}
