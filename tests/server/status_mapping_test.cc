#include "server/common/status_mapping.h"

#include "gtest/gtest.h"

namespace slipway {
namespace {

TEST(StatusMappingTest, KeepsCodeAndMessage) {
  struct Case {
    absl::Status in;
    grpc::StatusCode want;
  } cases[] = {
      {absl::NotFoundError("ref: no image"), grpc::StatusCode::NOT_FOUND},
      {absl::InvalidArgumentError("ref: bad"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::DataLossError("sha256:ab"), grpc::StatusCode::DATA_LOSS},
      {absl::ResourceExhaustedError("disk"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::UnavailableError("net"), grpc::StatusCode::UNAVAILABLE},
      {absl::FailedPreconditionError("gate"), grpc::StatusCode::FAILED_PRECONDITION},
      {absl::UnauthenticatedError("who"), grpc::StatusCode::UNAUTHENTICATED},
      {absl::PermissionDeniedError("no"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::AbortedError("gc running"), grpc::StatusCode::ABORTED},
      {absl::CancelledError("gone"), grpc::StatusCode::CANCELLED},
      {absl::InternalError("bug"), grpc::StatusCode::INTERNAL},
      {absl::UnimplementedError("later"), grpc::StatusCode::UNIMPLEMENTED},
  };
  for (const auto& c : cases) {
    grpc::Status out = ToGrpcStatus(c.in);
    EXPECT_EQ(out.error_code(), c.want) << c.in;
    EXPECT_EQ(out.error_message(), std::string(c.in.message()));
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(StatusMappingTest, OutOfRangeCodeStaysAValidGrpcCode) {
  // abseil itself may fold an unknown code to UNKNOWN; either way the wire code is valid.
  absl::Status odd(static_cast<absl::StatusCode>(42), "weird");
  grpc::Status out = ToGrpcStatus(odd);
  EXPECT_FALSE(out.ok());
  EXPECT_LE(static_cast<int>(out.error_code()),
            static_cast<int>(grpc::StatusCode::UNAUTHENTICATED));
  EXPECT_EQ(out.error_message(), "weird");
}

TEST(StatusMappingTest, WithFieldPrefixesAndKeepsCode) {
  absl::Status s = WithField(absl::InvalidArgumentError("bad tag"), "ref");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "ref: bad tag");
  EXPECT_TRUE(WithField(absl::OkStatus(), "ref").ok());
}

TEST(StatusMappingTest, CodeNames) {
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::NOT_FOUND), "NOT_FOUND");
  EXPECT_STREQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

}  // namespace
}  // namespace slipway
