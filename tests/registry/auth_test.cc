#include "server/registry/auth.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace slipway::registry {
namespace {

struct ChallengeCase {
  std::vector<std::string> headers;
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> want;
};

TEST(WwwAuthenticateTest, Table) {
  const std::vector<ChallengeCase> cases = {
      {{"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
        "scope=\"repository:library/alpine:pull\""},
       {{"bearer",
         {{"realm", "https://auth.docker.io/token"},
          {"service", "registry.docker.io"},
          {"scope", "repository:library/alpine:pull"}}}}},
      {{"Basic realm=\"Registry Realm\""}, {{"basic", {{"realm", "Registry Realm"}}}}},
      // Several challenges in one value; token values; odd spacing and case.
      {{"Basic realm=x ,  BEARER Realm = \"https://h/t\" , error=insufficient_scope"},
       {{"basic", {{"realm", "x"}}},
        {"bearer", {{"realm", "https://h/t"}, {"error", "insufficient_scope"}}}}},
      // Escapes inside quoted strings; commas inside quotes.
      {{R"(Bearer realm="https://h/t?a=1,b=2",scope="repository:a:pull,push",error_description="say \"no\" \\ here")"},
       {{"bearer",
         {{"realm", "https://h/t?a=1,b=2"},
          {"scope", "repository:a:pull,push"},
          {"error_description", "say \"no\" \\ here"}}}}},
      // Challenges spread over several header values; a token68; a bare scheme.
      {{"Negotiate", "Basic dXNlcjpwdw==", "Bearer realm=\"r\""},
       {{"negotiate", {}}, {"basic", {{"", "dXNlcjpwdw=="}}}, {"bearer", {{"realm", "r"}}}}},
  };
  for (const ChallengeCase& c : cases) {
    auto got = ParseWwwAuthenticate(c.headers);
    ASSERT_TRUE(got.ok()) << c.headers[0] << ": " << got.status();
    ASSERT_EQ(got->size(), c.want.size()) << c.headers[0];
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ((*got)[i].scheme, c.want[i].first) << c.headers[0];
      EXPECT_EQ((*got)[i].params, c.want[i].second) << c.headers[0];
    }
  }
  EXPECT_EQ(ParseWwwAuthenticate({"Bearer realm=\"unterminated"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseWwwAuthenticate({"Bearer realm=x y"}).ok());
  EXPECT_TRUE(ParseWwwAuthenticate({}).ok());
}

TEST(ScopeTest, MergeEscalatesActions) {
  EXPECT_EQ(RepositoryScope("a/b", false), "repository:a/b:pull");
  EXPECT_EQ(RepositoryScope("a/b", true), "repository:a/b:pull,push");
  EXPECT_EQ(MergeScopes({"repository:a:pull"}, {"repository:a:push repository:b:pull"}),
            (std::vector<std::string>{"repository:a:pull,push", "repository:b:pull"}));
  EXPECT_EQ(MergeScopes({"repository:localhost:5000/x:pull"}, {""}),
            std::vector<std::string>{"repository:localhost:5000/x:pull"});
  EXPECT_EQ(BasicAuthorization("user", "pw"), "Basic dXNlcjpwdw==");
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto http = HttpClient::Create({});
    ASSERT_TRUE(http.ok());
    http_ = std::move(*http);
  }
  HttpResponse Unauthorized(const std::string& challenge) {
    HttpResponse r;
    r.status = 401;
    r.headers.Add("WWW-Authenticate", challenge);
    return r;
  }
  AuthenticatorOptions Options() {
    AuthenticatorOptions o;
    o.registry_host = "registry.example.com";
    o.credentials.username = "me";
    o.credentials.password = "Canary-Secret-55";
    return o;
  }
  RealClock clock_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(AuthenticatorTest, BasicChallengeAnsweredFromCredentials) {
  Authenticator auth(*http_, clock_, Options());
  auto before = auth.AuthorizationFor({});
  ASSERT_TRUE(before.ok());
  EXPECT_FALSE(before->has_value());  // nothing asked yet: anonymous first
  auto header = auth.OnUnauthorized(Unauthorized("Basic realm=\"r\""), {});
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(*header, BasicAuthorization("me", "Canary-Secret-55"));
  auto after = auth.AuthorizationFor({"repository:a:pull"});
  ASSERT_TRUE(after.ok() && after->has_value());
  EXPECT_EQ(**after, *header);
}

TEST_F(AuthenticatorTest, PlainHttpRealmRefusedForHttpsRegistry) {
  Authenticator auth(*http_, clock_, Options());
  auto header = auth.OnUnauthorized(
      Unauthorized("Bearer realm=\"http://auth.example.com/token\",service=\"s\""),
      {"repository:a:pull"});
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(header.status().message().find("plain http"), std::string::npos) << header.status();
  EXPECT_EQ(header.status().ToString().find("Canary-Secret-55"), std::string::npos);
  EXPECT_EQ(auth.token_requests(), 0);
}

TEST_F(AuthenticatorTest, LinkLocalRealmRefused) {
  Authenticator auth(*http_, clock_, Options());
  for (const char* realm : {"https://169.254.169.254/latest/token", "https://[fe80::1]/token"}) {
    auto header = auth.OnUnauthorized(
        Unauthorized(absl::StrCat("Bearer realm=\"", realm, "\",service=\"s\"")),
        {"repository:a:pull"});
    ASSERT_FALSE(header.ok()) << realm;
    EXPECT_EQ(header.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(header.status().message().find("link-local"), std::string::npos) << header.status();
  }
  EXPECT_EQ(auth.token_requests(), 0);
}

TEST_F(AuthenticatorTest, NoUsableChallenge) {
  Authenticator auth(*http_, clock_, Options());
  auto header = auth.OnUnauthorized(Unauthorized("Digest realm=\"x\""), {});
  EXPECT_EQ(header.status().code(), absl::StatusCode::kUnauthenticated);
  AuthenticatorOptions anonymous = Options();
  anonymous.credentials = {};
  Authenticator anon(*http_, clock_, anonymous);
  auto basic = anon.OnUnauthorized(Unauthorized("Basic realm=\"x\""), {});
  EXPECT_EQ(basic.status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace slipway::registry
