#include "storage/manifest.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "storage/media_types.h"

namespace slipway {
namespace {

const std::string kD1 = Sha256Of("config").ToString();
const std::string kD2 = Sha256Of("layer").ToString();
const std::string kD3 = Sha256Of("child").ToString();

// Substitutes $C, $L, $M with digests so the tables stay readable.
std::string Doc(std::string text) {
  return absl::StrReplaceAll(text, {{"$C", kD1}, {"$L", kD2}, {"$M", kD3}, {"'", "\""}});
}

constexpr char kOciManifest[] =
    "{'schemaVersion':2,'mediaType':'application/vnd.oci.image.manifest.v1+json',"
    "'config':{'mediaType':'application/vnd.oci.image.config.v1+json','digest':'$C','size':7},"
    "'layers':[{'mediaType':'application/vnd.oci.image.layer.v1.tar+gzip','digest':'$L',"
    "'size':1234,'annotations':{'org.opencontainers.image.title':'l.tgz'}}]}";
constexpr char kDockerManifest[] =
    "{'schemaVersion':2,'mediaType':'application/vnd.docker.distribution.manifest.v2+json',"
    "'config':{'mediaType':'application/vnd.docker.container.image.v1+json','digest':'$C',"
    "'size':7},'layers':[{'mediaType':'application/vnd.docker.image.rootfs.diff.tar.gzip',"
    "'digest':'$L','size':0}]}";
constexpr char kOciIndex[] =
    "{'schemaVersion':2,'mediaType':'application/vnd.oci.image.index.v1+json','manifests':["
    "{'mediaType':'application/vnd.oci.image.manifest.v1+json','digest':'$M','size':500,"
    "'platform':{'os':'linux','architecture':'arm64','variant':'v8'}},"
    "{'mediaType':'application/vnd.oci.image.manifest.v1+json','digest':'$C','size':501}]}";
constexpr char kDockerList[] =
    "{'schemaVersion':2,'mediaType':'application/vnd.docker.distribution.manifest.list.v2+json',"
    "'manifests':[{'mediaType':'application/vnd.docker.distribution.manifest.v2+json',"
    "'digest':'$M','size':500,'platform':{'os':'linux','architecture':'amd64'}}]}";

struct ValidCase {
  const char* name;
  std::string doc;
  std::string content_type;
  bool is_index;
  std::string want_type;
};

TEST(ParseManifestDocumentTest, AcceptsValidDocuments) {
  const std::string oci_m(media::kOciManifest), oci_i(media::kOciIndex),
      docker_m(media::kDockerManifest), docker_l(media::kDockerManifestList);
  std::vector<ValidCase> cases = {
      {"oci manifest, no content type", Doc(kOciManifest), "", false, oci_m},
      {"oci manifest, matching content type", Doc(kOciManifest), oci_m, false, oci_m},
      {"content type with parameters", Doc(kOciManifest), oci_m + "; charset=utf-8", false, oci_m},
      {"generic content type", Doc(kOciManifest), "application/json", false, oci_m},
      {"docker manifest", Doc(kDockerManifest), docker_m, false, docker_m},
      {"docker manifest, no content type", Doc(kDockerManifest), "", false, docker_m},
      {"oci index", Doc(kOciIndex), oci_i, true, oci_i},
      {"docker list", Doc(kDockerList), "", true, docker_l},
      {"oci manifest without mediaType: inferred",
       Doc("{'schemaVersion':2,'config':{'mediaType':'x/y','digest':'$C','size':1},'layers':[]}"),
       "", false, oci_m},
      {"oci index without mediaType: inferred",
       Doc("{'schemaVersion':2,'manifests':[]}"), "", true, oci_i},
      {"no mediaType, typed by content type",
       Doc("{'schemaVersion':2,'config':{'mediaType':'x/y','digest':'$C','size':1},'layers':[]}"),
       docker_m, false, docker_m},
      {"artifact with subject and unknown fields",
       Doc("{'schemaVersion':2,'mediaType':'application/vnd.oci.image.manifest.v1+json',"
           "'artifactType':'application/x-sbom','config':{'mediaType':'application/vnd.oci.empty."
           "v1+json','digest':'$C','size':2,'data':'e30='},'layers':[],'subject':{'mediaType':"
           "'application/vnd.oci.image.manifest.v1+json','digest':'$M','size':9},"
           "'annotations':{'a':'b'}}"),
       "", false, oci_m},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto doc = ParseManifestDocument(c.doc, c.content_type);
    if (!doc.ok()) {
      ADD_FAILURE() << doc.status();
      continue;
    }
    EXPECT_EQ(doc->index.has_value(), c.is_index);
    EXPECT_NE(doc->manifest.has_value(), c.is_index);
    EXPECT_EQ(c.is_index ? doc->index->media_type : doc->manifest->media_type, c.want_type);
  }
}

TEST(ParseManifestDocumentTest, KeepsDescriptorDetails) {
  auto doc = ParseManifestDocument(Doc(kOciManifest), "");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const ImageManifest& m = *doc->manifest;
  EXPECT_EQ(m.config.media_type, media::kOciConfig);
  EXPECT_EQ(m.config.digest.ToString(), kD1);
  EXPECT_EQ(m.config.size, 7);
  ASSERT_EQ(m.layers.size(), 1u);
  EXPECT_EQ(m.layers[0].size, 1234);
  EXPECT_EQ(m.layers[0].annotations.at("org.opencontainers.image.title"), "l.tgz");
  EXPECT_FALSE(m.subject.has_value());

  auto index = ParseManifestDocument(Doc(kOciIndex), "");
  ASSERT_TRUE(index.ok()) << index.status();
  ASSERT_EQ(index->index->manifests.size(), 2u);
  const auto& e0 = index->index->manifests[0];
  ASSERT_TRUE(e0.platform.has_value());
  EXPECT_EQ(e0.platform->os, "linux");
  EXPECT_EQ(e0.platform->architecture, "arm64");
  EXPECT_EQ(e0.platform->variant, "v8");
  EXPECT_EQ(e0.descriptor.digest.ToString(), kD3);
  EXPECT_FALSE(index->index->manifests[1].platform.has_value());
}

struct InvalidCase {
  const char* name;
  std::string doc;
  std::string content_type;
  std::string want_in_message;
};

TEST(ParseManifestDocumentTest, RejectsInvalidDocuments) {
  const std::string oci_m(media::kOciManifest), oci_i(media::kOciIndex),
      docker_m(media::kDockerManifest);
  const std::string good_config = "'config':{'mediaType':'x/y','digest':'$C','size':1}";
  std::vector<InvalidCase> cases = {
      {"not json", "{'schemaVersion':2", "", "invalid JSON"},
      {"not an object", "[1,2]", "", "object"},
      {"empty", "", "", "invalid JSON"},
      {"no schemaVersion", Doc("{" + good_config + ",'layers':[]}"), "", "schemaVersion"},
      {"schemaVersion 1", Doc("{'schemaVersion':1," + good_config + ",'layers':[]}"), "",
       "schemaVersion"},
      {"schemaVersion string", Doc("{'schemaVersion':'2'," + good_config + ",'layers':[]}"), "",
       "schemaVersion"},
      {"both manifests and layers",
       Doc("{'schemaVersion':2,'manifests':[]," + good_config + ",'layers':[]}"), "",
       "ambiguous"},
      {"both manifests and config, typed",
       Doc("{'schemaVersion':2,'mediaType':'" + oci_i + "','manifests':[]," + good_config + "}"),
       "", "ambiguous"},
      {"mediaType contradicts content type", Doc(kOciManifest), docker_m, "contradicts"},
      {"index served as manifest", Doc(kOciIndex), oci_m, "contradicts"},
      {"index shape served as manifest", Doc("{'schemaVersion':2,'manifests':[]}"), oci_m,
       "manifests"},
      {"manifest shape served as index",
       Doc("{'schemaVersion':2," + good_config + ",'layers':[]}"), oci_i, "config"},
      {"unknown mediaType", Doc("{'schemaVersion':2,'mediaType':'text/html','manifests':[]}"), "",
       "unsupported mediaType"},
      {"mediaType not a string", Doc("{'schemaVersion':2,'mediaType':5,'manifests':[]}"), "",
       "mediaType"},
      {"unsupported content type", Doc(kOciManifest),
       "application/vnd.docker.distribution.manifest.v1+prettyjws", "unsupported content type"},
      {"neither shape", Doc("{'schemaVersion':2}"), "", "neither"},
      {"no config", Doc("{'schemaVersion':2,'mediaType':'" + oci_m + "','layers':[]}"), "",
       "config"},
      {"no layers", Doc("{'schemaVersion':2," + good_config + "}"), "", "layers"},
      {"layers not array", Doc("{'schemaVersion':2," + good_config + ",'layers':{}}"), "",
       "layers"},
      {"bad layer digest",
       Doc("{'schemaVersion':2," + good_config +
           ",'layers':[{'mediaType':'a/b','digest':'sha256:abc','size':1}]}"),
       "", "layers[0].digest"},
      {"sha512 digest",
       Doc("{'schemaVersion':2," + good_config + ",'layers':[{'mediaType':'a/b','digest':'sha512:" +
           std::string(128, 'a') + "','size':1}]}"),
       "", "layers[0].digest"},
      {"negative size",
       Doc("{'schemaVersion':2," + good_config +
           ",'layers':[{'mediaType':'a/b','digest':'$L','size':1},"
           "{'mediaType':'a/b','digest':'$L','size':-1}]}"),
       "", "layers[1].size"},
      {"fractional size",
       Doc("{'schemaVersion':2," + good_config +
           ",'layers':[{'mediaType':'a/b','digest':'$L','size':1.5}]}"),
       "", "layers[0].size"},
      {"size as string",
       Doc("{'schemaVersion':2,'config':{'mediaType':'x/y','digest':'$C','size':'1'},'layers':[]}"),
       "", "config.size"},
      {"missing size",
       Doc("{'schemaVersion':2,'config':{'mediaType':'x/y','digest':'$C'},'layers':[]}"), "",
       "config.size"},
      {"empty media type",
       Doc("{'schemaVersion':2,'config':{'mediaType':'','digest':'$C','size':1},'layers':[]}"), "",
       "config.mediaType"},
      {"missing digest",
       Doc("{'schemaVersion':2,'config':{'mediaType':'x/y','size':1},'layers':[]}"), "",
       "config.digest"},
      {"descriptor not an object", Doc("{'schemaVersion':2,'config':'$C','layers':[]}"), "",
       "config"},
      {"annotation not a string",
       Doc("{'schemaVersion':2,'config':{'mediaType':'x/y','digest':'$C','size':1,"
           "'annotations':{'k':1}},'layers':[]}"),
       "", "config.annotations.k"},
      {"bad subject",
       Doc("{'schemaVersion':2," + good_config +
           ",'layers':[],'subject':{'mediaType':'a/b','digest':'nope','size':1}}"),
       "", "subject.digest"},
      {"index entry bad digest",
       Doc("{'schemaVersion':2,'manifests':[{'mediaType':'a/b','digest':'$M','size':1},"
           "{'mediaType':'a/b','digest':'sha256:XYZ','size':1}]}"),
       "", "manifests[1].digest"},
      {"index manifests not array", Doc("{'schemaVersion':2,'manifests':{}}"), "", "manifests"},
      {"platform without os",
       Doc("{'schemaVersion':2,'manifests':[{'mediaType':'a/b','digest':'$M','size':1,"
           "'platform':{'architecture':'amd64'}}]}"),
       "", "manifests[0].platform"},
      {"platform not an object",
       Doc("{'schemaVersion':2,'manifests':[{'mediaType':'a/b','digest':'$M','size':1,"
           "'platform':'linux/amd64'}]}"),
       "", "manifests[0].platform"},
      {"deep nesting", std::string(100000, '['), "", "nested"},
      {"deep nesting in a field",
       Doc("{'schemaVersion':2,'annotations':") + std::string(1000, '[') +
           std::string(1000, ']') + "}",
       "", "nested"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto doc = ParseManifestDocument(c.doc, c.content_type);
    if (doc.ok()) {
      ADD_FAILURE() << "accepted";
      continue;
    }
    EXPECT_EQ(doc.status().code(), absl::StatusCode::kInvalidArgument) << doc.status();
    EXPECT_NE(doc.status().message().find(c.want_in_message), std::string::npos)
        << doc.status();
  }
}

TEST(ParseManifestDocumentTest, BracketsInsideStringsAreNotNesting) {
  std::string doc = Doc(kOciManifest);
  doc.insert(1, "'x':'" + std::string(500, '[') + "\\\"" + std::string(500, '{') + "',");
  doc = absl::StrReplaceAll(doc, {{"'", "\""}});
  auto parsed = ParseManifestDocument(doc, "");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
}

TEST(ParseManifestDocumentTest, SizeLimit) {
  // Padding in an annotation keeps the document valid; only its size changes.
  auto padded = [](size_t total) {
    std::string head = Doc(
        "{'schemaVersion':2,'config':{'mediaType':'x/y','digest':'$C','size':1},'layers':[],"
        "'annotations':{'pad':'");
    std::string tail = "'}}";
    tail = absl::StrReplaceAll(tail, {{"'", "\""}});
    return head + std::string(total - head.size() - tail.size(), 'p') + tail;
  };
  std::string at_limit = padded(kMaxManifestBytes);
  ASSERT_EQ(static_cast<int64_t>(at_limit.size()), kMaxManifestBytes);
  auto ok = ParseManifestDocument(at_limit, "");
  EXPECT_TRUE(ok.ok()) << ok.status();
  auto over = ParseManifestDocument(padded(kMaxManifestBytes + 1), "");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(ParseImageConfig(std::string(kMaxManifestBytes + 1, ' ')).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(SerializeTest, ManifestRoundTripsCanonically) {
  auto parsed = ParseManifestDocument(Doc(kOciManifest), "");
  ASSERT_TRUE(parsed.ok());
  std::string out = SerializeManifest(*parsed->manifest);
  // Sorted keys, no whitespace: the exact bytes are part of the contract (digests depend on it).
  EXPECT_EQ(out, Doc("{'config':{'digest':'$C','mediaType':'application/vnd.oci.image.config.v1+"
                     "json','size':7},'layers':[{'annotations':{'org.opencontainers.image.title':"
                     "'l.tgz'},'digest':'$L','mediaType':'application/vnd.oci.image.layer.v1.tar+"
                     "gzip','size':1234}],'mediaType':'application/vnd.oci.image.manifest.v1+json',"
                     "'schemaVersion':2}"));
  auto again = ParseManifestDocument(out, media::kOciManifest);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(SerializeManifest(*again->manifest), out);
}

TEST(SerializeTest, ManifestWithSubjectAndEmptyLayers) {
  ImageManifest m{std::string(media::kOciManifest),
                  Descriptor{std::string(media::kOciEmpty), Sha256Of("{}"), 2, {}},
                  {},
                  Descriptor{std::string(media::kOciManifest), Sha256Of("s"), 10, {}}};
  std::string out = SerializeManifest(m);
  EXPECT_NE(out.find("\"layers\":[]"), std::string::npos) << out;
  auto parsed = ParseManifestDocument(out, "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->manifest->subject.has_value());
  EXPECT_EQ(parsed->manifest->subject->digest, Sha256Of("s"));
}

TEST(SerializeTest, IndexRoundTripsWithPlatforms) {
  auto parsed = ParseManifestDocument(Doc(kOciIndex), "");
  ASSERT_TRUE(parsed.ok());
  std::string out = SerializeIndex(*parsed->index);
  EXPECT_EQ(out.find(' '), std::string::npos);
  EXPECT_NE(out.find("\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}"),
            std::string::npos)
      << out;
  auto again = ParseManifestDocument(out, "");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(SerializeIndex(*again->index), out);
  ASSERT_EQ(again->index->manifests.size(), 2u);
  EXPECT_FALSE(again->index->manifests[1].platform.has_value());
}

TEST(ParseImageConfigTest, ReadsPlatformDiffIdsAndCreated) {
  std::string config = Doc(
      "{'architecture':'arm','os':'linux','variant':'v7','created':'2024-01-02T03:04:05Z',"
      "'config':{'Env':['PATH=/bin']},'rootfs':{'type':'layers','diff_ids':['$L','$C']},"
      "'history':[]}");
  auto summary = ParseImageConfig(config);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->platform.os, "linux");
  EXPECT_EQ(summary->platform.architecture, "arm");
  EXPECT_EQ(summary->platform.variant, "v7");
  EXPECT_EQ(summary->created, "2024-01-02T03:04:05Z");
  ASSERT_EQ(summary->diff_ids.size(), 2u);
  EXPECT_EQ(summary->diff_ids[0].ToString(), kD2);
  EXPECT_EQ(summary->diff_ids[1].ToString(), kD1);

  auto empty = ParseImageConfig(Doc("{'rootfs':{'type':'layers','diff_ids':[]}}"));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->diff_ids.empty());
}

TEST(ParseImageConfigTest, RejectsBadConfigs) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"nope", "invalid JSON"},
      {"[]", "object"},
      {"{}", "rootfs"},
      {"{'rootfs':[]}", "rootfs"},
      {"{'rootfs':{'type':'tarball','diff_ids':[]}}", "rootfs.type"},
      {"{'rootfs':{'diff_ids':[]}}", "rootfs.type"},
      {"{'rootfs':{'type':'layers'}}", "rootfs.diff_ids"},
      {"{'rootfs':{'type':'layers','diff_ids':['$L','sha256:00']}}", "rootfs.diff_ids[1]"},
      {"{'rootfs':{'type':'layers','diff_ids':[5]}}", "rootfs.diff_ids[0]"},
      {"{'os':7,'rootfs':{'type':'layers','diff_ids':[]}}", "os"},
  };
  for (const auto& [text, want] : cases) {
    SCOPED_TRACE(text);
    auto summary = ParseImageConfig(Doc(text));
    if (summary.ok()) {
      ADD_FAILURE() << "accepted";
      continue;
    }
    EXPECT_EQ(summary.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(summary.status().message().find(want), std::string::npos) << summary.status();
  }
}

TEST(MediaTypesTest, Classifies) {
  using media::LayerCompressionKind;
  EXPECT_EQ(media::CompressionOfLayerType(media::kOciLayer), LayerCompressionKind::kNone);
  EXPECT_EQ(media::CompressionOfLayerType(media::kDockerLayer), LayerCompressionKind::kNone);
  EXPECT_EQ(media::CompressionOfLayerType(media::kOciLayerGzip), LayerCompressionKind::kGzip);
  EXPECT_EQ(media::CompressionOfLayerType(media::kDockerLayerGzip), LayerCompressionKind::kGzip);
  EXPECT_EQ(media::CompressionOfLayerType(media::kDockerForeignLayerGzip),
            LayerCompressionKind::kGzip);
  EXPECT_EQ(media::CompressionOfLayerType(media::kOciLayerZstd), LayerCompressionKind::kZstd);
  EXPECT_EQ(media::CompressionOfLayerType(media::kOciConfig), LayerCompressionKind::kUnknown);
  EXPECT_TRUE(media::IsManifestType(media::kOciManifest));
  EXPECT_TRUE(media::IsManifestType(media::kDockerManifest));
  EXPECT_FALSE(media::IsManifestType(media::kOciIndex));
  EXPECT_TRUE(media::IsIndexType(media::kOciIndex));
  EXPECT_TRUE(media::IsIndexType(media::kDockerManifestList));
  EXPECT_FALSE(media::IsIndexType(media::kDockerManifest));
  EXPECT_TRUE(media::IsDockerType(media::kDockerConfig));
  EXPECT_FALSE(media::IsDockerType(media::kOciConfig));
}

}  // namespace
}  // namespace slipway
