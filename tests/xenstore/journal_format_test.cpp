// The journal's record framing and encoding (journal_format.h) and the tree
// diff that journals a request's changes (saved_state.h).
#include <gtest/gtest.h>

#include "xenstore/journal_format.h"
#include "xenstore/saved_state.h"

using namespace pv::xenstore;

namespace {
std::vector<std::string> dump(const Tree& tree) {
  std::vector<std::string> out;
  tree.visit("/", [&](const std::string& path, const Node& n) {
    out.push_back(path + "=" + n.value + " " + n.perms.to_string() + " g" + std::to_string(n.generation));
  });
  return out;
}

// Replays diff_trees(before, after) onto a copy of `before`.
Tree replayed(const Tree& before, const Tree& after) {
  JournalBatch batch;
  diff_trees(before.root(), after.root(), batch.ops);
  SavedState state;
  state.tree = before;
  state.apply(decode_batch(encode_batch(batch)));
  return state.tree;
}
}  // namespace

TEST(JournalFormat, FramesRoundTrip) {
  const std::string data = frame("Hone") + frame(std::string("B\0two", 5));
  size_t offset = 0;
  std::string payload;
  ASSERT_EQ(next_frame(data, offset, payload), FrameStatus::kOk);
  EXPECT_EQ(payload, "Hone");
  ASSERT_EQ(next_frame(data, offset, payload), FrameStatus::kOk);
  EXPECT_EQ(payload, std::string("B\0two", 5));
  EXPECT_EQ(next_frame(data, offset, payload), FrameStatus::kEnd);
}

TEST(JournalFormat, TornAndCorruptFramesAreTold) {
  const std::string data = frame("Hpayload");
  for (size_t cut = 1; cut < data.size(); cut++) {
    size_t offset = 0;
    std::string payload;
    EXPECT_EQ(next_frame(data.substr(0, cut), offset, payload), FrameStatus::kTorn) << cut;
    EXPECT_EQ(offset, 0u);
  }
  for (size_t i = 0; i < data.size(); i++) {
    std::string bad = data;
    bad[i] ^= 0x01;
    size_t offset = 0;
    std::string payload;
    const FrameStatus st = next_frame(bad, offset, payload);
    EXPECT_NE(st, FrameStatus::kOk) << "flipped byte " << i;
  }
}

TEST(JournalFormat, Crc32IsTheStandardOne) { EXPECT_EQ(crc32("123456789"), 0xCBF43926u); }

TEST(JournalFormat, BatchesRoundTrip) {
  JournalBatch b{42, 7, {}};
  JournalOp put;
  put.kind = JournalOp::Kind::kPutNode;
  put.path = "/a/b";
  put.value = std::string("v\0al", 4);
  put.perms = Permissions({{5, kAccessNone}, {6, kAccessRead | kAccessWrite}});
  put.generation = 1ull << 40;
  JournalOp dom;
  dom.kind = JournalOp::Kind::kDomain;
  dom.domain = SavedDomain{5, 0xfeedfacecafe, 3, true, DomId{9}};
  JournalOp watch;
  watch.kind = JournalOp::Kind::kWatchAdd;
  watch.domid = 5;
  watch.path = "@releaseDomain";
  watch.value = "tok";
  watch.relative = true;
  b.ops = {put, dom, watch};
  const JournalBatch back = decode_batch(encode_batch(b));
  EXPECT_EQ(back.generation, 42u);
  EXPECT_EQ(back.next_transaction_id, 7u);
  EXPECT_EQ(back.ops, b.ops);
}

TEST(JournalFormat, MalformedRecordsAreFormatErrors) {
  JournalBatch b{1, 1, {JournalOp{}}};
  const std::string good = encode_batch(b);
  EXPECT_THROW(decode_batch(good.substr(0, good.size() - 1)), FormatError);
  EXPECT_THROW(decode_batch(good + "x"), FormatError);
  EXPECT_THROW(decode_header(good), FormatError) << "a batch is not a header";
  EXPECT_THROW(record_type(""), FormatError);
  const FileHeader h = decode_header(encode_header({FileKind::kJournal, 12}));
  EXPECT_EQ(h.kind, FileKind::kJournal);
  EXPECT_EQ(h.epoch, 12u);
}

TEST(TreeDiff, ReplayingTheDiffGivesTheSameTree) {
  Tree before(Permissions(), 1);
  before.put("/a", "1", Permissions(), 2);
  before.put("/a/x", "ax", Permissions({{5, kAccessRead}}), 3);
  before.put("/a/x/deep", "d", Permissions(), 4);
  before.put("/b", "2", Permissions(), 5);
  before.put("/c", "3", Permissions(), 6);
  Tree after = before;
  after.put("/a/x", "changed", Permissions({{5, kAccessNone}, {7, kAccessRead}}), 7);
  after.erase("/a/x/deep", 8);
  after.put("/a/y", "new", Permissions(), 9);
  after.put("/a/y/z", "newer", Permissions(), 10);
  after.erase("/b", 11);
  after.put("/b", "re-created", Permissions(), 12);  // removed and made again
  EXPECT_EQ(dump(replayed(before, after)), dump(after));
  EXPECT_EQ(replayed(before, after).nodes_owned_by(5), after.nodes_owned_by(5));
  EXPECT_EQ(replayed(before, after).nodes_owned_by(0), after.nodes_owned_by(0));
}

TEST(TreeDiff, UnchangedSubtreesAreNotVisited) {
  Tree before(Permissions(), 1);
  before.put("/big", "", Permissions(), 2);
  for (int i = 0; i < 100; i++) before.put("/big/n" + std::to_string(i), "v", Permissions(), 3);
  Tree after = before;
  after.put("/small", "s", Permissions(), 4);
  std::vector<JournalOp> ops;
  diff_trees(before.root(), after.root(), ops);
  ASSERT_EQ(ops.size(), 2u) << "the root (its children changed) and /small";
  EXPECT_EQ(ops[0].path, "/");
  EXPECT_EQ(ops[1].path, "/small");
  ops.clear();
  diff_trees(after.root(), after.root(), ops);
  EXPECT_TRUE(ops.empty());
}

TEST(SavedStateApply, OpsThatCannotApplyAreFormatErrors) {
  SavedState s;
  JournalOp orphan;
  orphan.kind = JournalOp::Kind::kPutNode;
  orphan.path = "/no/parent";
  EXPECT_THROW(s.apply(JournalBatch{1, 1, {orphan}}), FormatError);
  JournalOp bad_path = orphan;
  bad_path.path = "relative";
  EXPECT_THROW(s.apply(JournalBatch{1, 1, {bad_path}}), FormatError);
}
