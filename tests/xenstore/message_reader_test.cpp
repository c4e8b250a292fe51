#include <gtest/gtest.h>

#include <cstring>

#include "xenstore/message_reader.h"

using namespace pv::xenstore;

TEST(XenstoreMessageReader, ReassemblesAnyChunking) {
  std::string bytes = encode({2, 7, 0, std::string("/a\0", 3)}) + encode({11, 8, 3, std::string("/b\0v", 4)});
  MessageReader reader;
  std::vector<Message> got;
  for (char c : bytes) {
    reader.append(std::string_view(&c, 1));
    while (auto m = reader.next()) got.push_back(*m);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].req_id, 7u);
  EXPECT_EQ(got[1].tx_id, 3u);
  EXPECT_EQ(got[1].payload, std::string("/b\0v", 4));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(XenstoreMessageReader, OversizedLengthIsAFramingError) {
  WireHeader hdr{2, 1, 0, kPayloadMax + 1};
  std::string bytes(sizeof hdr, '\0');
  std::memcpy(bytes.data(), &hdr, sizeof hdr);
  MessageReader reader;
  reader.append(bytes);
  EXPECT_THROW(reader.next(), FramingError);
}
