#include "server/common/auth.h"

#include <map>

#include "gtest/gtest.h"
#include "server/common/listen_address.h"
#include "server/common/logging.h"
#include "tests/support/temp_dir.h"

namespace slipway {
namespace {

TEST(AuthTest, BearerTokenMatchesExactly) {
  EXPECT_TRUE(BearerTokenMatches("Bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cre", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer s3cretX", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("bearer s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("s3cret", "s3cret"));
  EXPECT_FALSE(BearerTokenMatches("Bearer ", ""));
  EXPECT_FALSE(BearerTokenMatches("", ""));
}

TEST(AuthTest, ProcessorRejectsMissingAndWrongTokens) {
  BearerTokenAuthProcessor processor("tok");
  grpc::AuthMetadataProcessor::OutputMetadata consumed, response;
  std::multimap<grpc::string_ref, grpc::string_ref> none;
  EXPECT_EQ(processor.Process(none, nullptr, &consumed, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  std::multimap<grpc::string_ref, grpc::string_ref> wrong = {{"authorization", "Bearer nope"}};
  grpc::Status s = processor.Process(wrong, nullptr, &consumed, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message().find("nope"), std::string::npos);  // never echo a credential
  std::multimap<grpc::string_ref, grpc::string_ref> right = {{"authorization", "Bearer tok"}};
  EXPECT_TRUE(processor.Process(right, nullptr, &consumed, &response).ok());
  EXPECT_EQ(consumed.count("authorization"), 1u);
}

TEST(AuthTest, ReadTokenFile) {
  testing::TempDir dir;
  testing::WriteFile(dir.Sub("t"), "  abc123 \nsecond line\n");
  auto token = ReadTokenFile(dir.Sub("t"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abc123");
  testing::WriteFile(dir.Sub("empty"), "\n");
  EXPECT_FALSE(ReadTokenFile(dir.Sub("empty")).ok());
  EXPECT_FALSE(ReadTokenFile(dir.Sub("missing")).ok());
}

TEST(ListenSecurityTest, TcpNeedsTokenAndNonLoopbackNeedsTls) {
  Config config;
  config.listen = {"unix:///tmp/x.sock"};
  EXPECT_TRUE(CheckListenerSecurity(config).ok());
  config.listen = {"127.0.0.1:5000"};
  absl::Status s = CheckListenerSecurity(config);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("auth token"), std::string::npos) << s;
  config.auth_token_file = "/t";
  EXPECT_TRUE(CheckListenerSecurity(config).ok());
  config.listen = {"0.0.0.0:5000"};
  s = CheckListenerSecurity(config);
  EXPECT_NE(s.message().find("TLS"), std::string::npos) << s;
  config.tls_cert = "/c";
  config.tls_key = "/k";
  EXPECT_TRUE(CheckListenerSecurity(config).ok());
}

TEST(ListenAddressTest, Parse) {
  auto unix_addr = ParseListenAddress("unix:///run/s.sock");
  ASSERT_TRUE(unix_addr.ok());
  EXPECT_EQ(unix_addr->path, "/run/s.sock");
  EXPECT_EQ(unix_addr->ToGrpcUri(), "unix:/run/s.sock");
  auto v6 = ParseListenAddress("[::1]:80");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_TRUE(IsLoopbackHost(v6->host));
  EXPECT_EQ(v6->ToGrpcUri(), "[::1]:80");
  EXPECT_FALSE(ParseListenAddress("unix://relative").ok());
  EXPECT_FALSE(ParseListenAddress("host").ok());
  EXPECT_FALSE(ParseListenAddress("host:99999").ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.5"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

TEST(RequestIdTest, SanitizedAndGenerated) {
  EXPECT_EQ(SanitizeRequestId("abc-123_x.y"), "abc-123_x.y");
  EXPECT_EQ(SanitizeRequestId("a b\n[req=evil]"), "abreqevil");
  EXPECT_EQ(SanitizeRequestId(std::string(100, 'a')).size(), 64u);
  RequestIdGenerator gen;
  std::string a = gen.Next(), b = gen.Next();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace slipway
