#include "storage/digest.h"

#include "gtest/gtest.h"

namespace slipway {
namespace {

constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(DigestTest, ParsesCanonicalSha256) {
  auto d = Digest::Parse(std::string("sha256:") + kEmptySha);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->hex(), kEmptySha);
  EXPECT_EQ(d->ToString(), std::string("sha256:") + kEmptySha);
}

TEST(DigestTest, RejectsEverythingElse) {
  for (const char* bad : {"", "sha256:", "sha256:../../x", "sha512:abcd", "md5:00",
                          "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                          "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/",
                          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}) {
    auto d = Digest::Parse(bad);
    EXPECT_FALSE(d.ok()) << bad;
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(d.status().message().find("digest"), absl::string_view::npos);
    }
  }
}

TEST(DigestTest, HashesLikeSha256sum) {
  EXPECT_EQ(Sha256Of("").hex(), kEmptySha);
  EXPECT_EQ(Sha256Of("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.bytes(), 3);
  EXPECT_EQ(h.Finish().hex(), Sha256Of("abc").hex());
}

}  // namespace
}  // namespace slipway
