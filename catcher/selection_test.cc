#include "catcher/selection.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "common/dn.h"

namespace vmc::catcher {
namespace {

constexpr std::string_view kList = "4e186b44-2c64-40ea-97d5-e9e5c0bce059";
constexpr std::string_view kImage = "488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d";
constexpr std::string_view kOtherImage = "9f2c1e7a-0b3d-4c5e-8f6a-1b2c3d4e5f60";
constexpr std::string_view kSha =
    "8b4c269a60da1061b434b696c4a89293bea847b66bd8ba486a914d4209df651193ee8d454f8231840b7500fab6740"
    "620c7111d9a17d08b743133dc393ba2c0d4";
constexpr std::string_view kShaUpper =
    "8B4C269A60DA1061B434B696C4A89293BEA847B66BD8BA486A914D4209DF651193EE8D454F8231840B7500FAB6740"
    "620C7111D9A17D08B743133DC393BA2C0D4";
constexpr std::string_view kOtherSha =
    "0000269a60da1061b434b696c4a89293bea847b66bd8ba486a914d4209df651193ee8d454f8231840b7500fab6740"
    "620c7111d9a17d08b743133dc393ba2c0d4";
constexpr std::string_view kDn = "/C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge";
// The same X.509 name as kDn: values in other case, extra inner and outer
// spaces.
constexpr std::string_view kDnRespelled = "/C=de/O=germangrid/OU=desy/CN=  owen   SYNGE ";
constexpr std::string_view kOtherDn = "/C=DE/O=GermanGrid/OU=DESY/CN=Somebody Else";
// The same attributes as kDn in another order: another name.
constexpr std::string_view kDnReordered = "/O=GermanGrid/C=DE/OU=DESY/CN=Owen Synge";

DenyRule Sha(std::string_view sha512) {
  DenyRule rule;
  rule.sha512 = std::string(sha512);
  return rule;
}
DenyRule Image(std::string_view id) {
  DenyRule rule;
  rule.image = std::string(id);
  return rule;
}
DenyRule List(std::string_view id) {
  DenyRule rule;
  rule.list = std::string(id);
  return rule;
}
DenyRule Endorsed(std::string_view dn) {
  DenyRule rule;
  rule.endorser_dn = std::string(dn);
  // As the policy loader does.
  if (auto name = DistinguishedName::Parse(dn); name.ok()) rule.endorser_name = *name;
  return rule;
}
DenyRule Both(std::string_view id, std::string_view dn) {
  DenyRule rule = Image(id);
  rule.endorser_dn = Endorsed(dn).endorser_dn;
  rule.endorser_name = Endorsed(dn).endorser_name;
  return rule;
}

struct Case {
  const char* name = "";
  // The subscription's selection.
  SelectionMode mode = SelectionMode::kAll;
  std::vector<std::string> listed = {};
  NewImages new_images = NewImages::kAccept;
  // The admin's choice and the policy.
  AdminChoice admin = AdminChoice::kNone;
  std::vector<DenyRule> deny = {};
  std::optional<std::uint64_t> max_image_bytes = std::nullopt;
  // The image (defaults: kList, kImage, kSha, kDn, old, 1000 bytes).
  bool is_new = false;
  std::string_view image = kImage;
  std::string_view sha512 = kSha;
  std::string_view dn = kDn;
  std::optional<std::uint64_t> size = 1000;
  // Expected.
  ImageState state = ImageState::kWanted;
  std::string_view reason = {};  // a substring of the reason
  std::optional<std::size_t> deny_rule = std::nullopt;
};

const Case kCases[] = {
    // Selection modes.
    {.name = "AllSelectsOldImage", .reason = "selects all images"},
    {.name = "AllAcceptsNewImageByDefault", .is_new = true, .reason = "selects all images"},
    {.name = "AllWithNewRefusedKeepsOldImage",
     .new_images = NewImages::kRefuse,
     .reason = "selects all images"},
    {.name = "AllWithNewRefusedHoldsNewImage",
     .new_images = NewImages::kRefuse,
     .is_new = true,
     .state = ImageState::kNotSelected,
     .reason = "new image awaits 'catcher image accept'"},
    {.name = "NoneSelectsNothing",
     .mode = SelectionMode::kNone,
     .state = ImageState::kNotSelected,
     .reason = "subscription selects no images"},
    {.name = "NoneSelectsNoNewImage",
     .mode = SelectionMode::kNone,
     .is_new = true,
     .state = ImageState::kNotSelected,
     .reason = "subscription selects no images"},
    {.name = "ListedSelectsListedImage",
     .mode = SelectionMode::kListed,
     .listed = {std::string(kOtherImage), std::string(kImage)},
     .reason = "listed in the subscription's images"},
    {.name = "ListedComparesIdentifiersIgnoringCase",
     .mode = SelectionMode::kListed,
     .listed = {"488DCDC4-9AB1-4FC8-A7BA-B7A5428ECB3D"},
     .reason = "listed"},
    {.name = "ListedSkipsUnlistedImage",
     .mode = SelectionMode::kListed,
     .listed = {std::string(kOtherImage)},
     .state = ImageState::kNotSelected,
     .reason = "not in the subscription's image list"},
    {.name = "EmptyListSelectsNothing",
     .mode = SelectionMode::kListed,
     .state = ImageState::kNotSelected,
     .reason = "not in the subscription's image list"},
    {.name = "ListingAcceptsNewImageInAdvance",
     .mode = SelectionMode::kListed,
     .listed = {std::string(kImage)},
     .new_images = NewImages::kRefuse,
     .is_new = true,
     .reason = "listed"},

    // The admin's choice.
    {.name = "AdminAcceptOverridesNone",
     .mode = SelectionMode::kNone,
     .admin = AdminChoice::kAccepted,
     .reason = "accepted by the admin"},
    {.name = "AdminAcceptOverridesUnlisted",
     .mode = SelectionMode::kListed,
     .listed = {std::string(kOtherImage)},
     .admin = AdminChoice::kAccepted,
     .reason = "accepted by the admin"},
    {.name = "AdminAcceptReleasesNewImage",
     .new_images = NewImages::kRefuse,
     .admin = AdminChoice::kAccepted,
     .is_new = true,
     .reason = "accepted by the admin"},
    {.name = "AdminRefuseOverridesAll",
     .admin = AdminChoice::kRefused,
     .state = ImageState::kNotSelected,
     .reason = "refused by the admin"},
    {.name = "AdminRefuseOverridesListed",
     .mode = SelectionMode::kListed,
     .listed = {std::string(kImage)},
     .admin = AdminChoice::kRefused,
     .state = ImageState::kNotSelected,
     .reason = "refused by the admin"},

    // Deny rules, each field.
    {.name = "DenyBySha512",
     .deny = {Sha(kOtherSha), Sha(kSha)},
     .state = ImageState::kDenied,
     .reason = "denied by policy rule 2 (sha512 8b4c269a60da1061...)",
     .deny_rule = 1},
    {.name = "DenyBySha512UpperCaseRule",
     .deny = {Sha(kShaUpper)},
     .state = ImageState::kDenied,
     .reason = "denied by policy rule 1",
     .deny_rule = 0},
    {.name = "DenyBySha512UpperCaseImage",
     .deny = {Sha(kSha)},
     .sha512 = kShaUpper,
     .state = ImageState::kDenied,
     .reason = "denied by policy rule 1",
     .deny_rule = 0},
    {.name = "OtherSha512NotDenied", .deny = {Sha(kOtherSha)}, .reason = "selects all images"},
    {.name = "DenyByImageIdentifier",
     .deny = {Image(kImage)},
     .state = ImageState::kDenied,
     .reason = "(image 488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d)",
     .deny_rule = 0},
    {.name = "DenyByImageIdentifierIgnoringCase",
     .deny = {Image("488DCDC4-9AB1-4FC8-A7BA-B7A5428ECB3D")},
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "OtherImageNotDenied", .deny = {Image(kOtherImage)}},
    {.name = "DenyByList",
     .deny = {List(kList)},
     .state = ImageState::kDenied,
     .reason = "(list 4e186b44",
     .deny_rule = 0},
    {.name = "DenyByEndorserDn",
     .deny = {Endorsed(kDn)},
     .state = ImageState::kDenied,
     .reason = "(endorser /C=DE/O=GermanGrid/OU=DESY/CN=Owen Synge)",
     .deny_rule = 0},
    {.name = "DenyByEndorserDnComparedAsX509Name",
     .deny = {Endorsed(kDnRespelled)},
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "DenyByEndorserDnRespelledImageSide",
     .deny = {Endorsed(kDn)},
     .dn = kDnRespelled,
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "OtherEndorserNotDenied", .deny = {Endorsed(kOtherDn)}},
    {.name = "ReorderedDnIsAnotherEndorser", .deny = {Endorsed(kDnReordered)}},
    {.name = "UnparsableImageEndorserFailsClosed",
     .deny = {Endorsed(kOtherDn)},
     .dn = "not a DN",
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "EmptyRuleMatchesNothing", .deny = {DenyRule{}}},

    // A rule with two fields matches only when both match.
    {.name = "TwoFieldRuleBothMatch",
     .deny = {Both(kImage, kDnRespelled)},
     .state = ImageState::kDenied,
     .reason = "(image 488dcdc4-9ab1-4fc8-a7ba-b7a5428ecb3d, endorser",
     .deny_rule = 0},
    {.name = "TwoFieldRuleOnlyImageMatches", .deny = {Both(kImage, kOtherDn)}},
    {.name = "TwoFieldRuleOnlyEndorserMatches", .deny = {Both(kOtherImage, kDn)}},

    // Deny rules beat everything.
    {.name = "DenyBeatsAdminAccept",
     .admin = AdminChoice::kAccepted,
     .deny = {Sha(kSha)},
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "DenyBeatsListing",
     .mode = SelectionMode::kListed,
     .listed = {std::string(kImage)},
     .deny = {Image(kImage)},
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "DenyBeatsAdminRefuse",
     .admin = AdminChoice::kRefused,
     .deny = {Image(kImage)},
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "DenyBeatsSizeLimit",
     .deny = {Image(kImage)},
     .max_image_bytes = 10,
     .state = ImageState::kDenied,
     .deny_rule = 0},
    {.name = "FirstMatchingRuleIsReported",
     .deny = {Image(kOtherImage), Endorsed(kDn), Image(kImage)},
     .state = ImageState::kDenied,
     .reason = "denied by policy rule 2",
     .deny_rule = 1},

    // The size limit.
    {.name = "SizeAtLimitWanted", .max_image_bytes = 1000},
    {.name = "SizeOverLimitTooLarge",
     .max_image_bytes = 999,
     .state = ImageState::kTooLarge,
     .reason = "declares 1000 bytes, more than the policy's max_image_bytes (999)"},
    {.name = "SizeLimitBeatsAdminAccept",
     .admin = AdminChoice::kAccepted,
     .max_image_bytes = 999,
     .state = ImageState::kTooLarge},
    {.name = "AdminRefuseBeatsSizeLimit",
     .admin = AdminChoice::kRefused,
     .max_image_bytes = 999,
     .state = ImageState::kNotSelected,
     .reason = "refused by the admin"},
    {.name = "SizeLimitBeatsSelection",
     .mode = SelectionMode::kNone,
     .max_image_bytes = 999,
     .state = ImageState::kTooLarge},
    {.name = "UndeclaredSizeRefusedUnderLimit",
     .max_image_bytes = 999,
     .size = std::nullopt,
     .state = ImageState::kTooLarge,
     .reason = "declares no size"},
    {.name = "UndeclaredSizeWithoutLimitWanted", .size = std::nullopt},
};

class DecideImageTest : public testing::TestWithParam<Case> {};

TEST_P(DecideImageTest, Decides) {
  const Case& c = GetParam();
  Policy policy;
  policy.deny = c.deny;
  policy.limits.max_image_bytes = c.max_image_bytes;
  ImageSelection selection;
  selection.mode = c.mode;
  selection.listed = c.listed;
  selection.new_images = c.new_images;
  const ImageFacts facts{.list_identifier = kList,
                         .image_identifier = c.image,
                         .sha512 = c.sha512,
                         .endorser_dn = c.dn,
                         .is_new = c.is_new,
                         .size = c.size};

  const ImageDecision decision = DecideImage(policy, selection, c.admin, facts);

  EXPECT_EQ(ImageStateName(decision.state), ImageStateName(c.state)) << decision.reason;
  EXPECT_EQ(decision.wanted(), c.state == ImageState::kWanted);
  EXPECT_NE(decision.reason.find(c.reason), std::string::npos)
      << "reason: " << decision.reason << "\nexpected to contain: " << c.reason;
  EXPECT_EQ(decision.deny_rule, c.deny_rule);
}

INSTANTIATE_TEST_SUITE_P(Table, DecideImageTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& param) {
                           return param.param.name;
                         });

// Deny rules fail closed on a DN that does not parse, so the DN cases of the
// table prove X.509 comparison only if their DNs parse.
TEST(SelectionTest, TableDnsParse) {
  for (const std::string_view dn : {kDn, kDnRespelled, kOtherDn, kDnReordered}) {
    EXPECT_TRUE(ParseDn(dn).ok()) << dn;
  }
  EXPECT_TRUE(SameDn(ParseDn(kDn)->get(), ParseDn(kDnRespelled)->get()));
  EXPECT_FALSE(SameDn(ParseDn(kDn)->get(), ParseDn(kDnReordered)->get()));
}

TEST(SelectionTest, StateNamesAreStable) {
  EXPECT_EQ(ImageStateName(ImageState::kWanted), "wanted");
  EXPECT_EQ(ImageStateName(ImageState::kNotSelected), "not-selected");
  EXPECT_EQ(ImageStateName(ImageState::kDenied), "denied");
  EXPECT_EQ(ImageStateName(ImageState::kTooLarge), "too-large");
}

TEST(SelectionTest, DeniedReasonQuotesTheAdminsComment) {
  Policy policy;
  DenyRule rule = Sha(kSha);
  rule.comment = "known bad build\n(CVE-2024-0001)";
  policy.deny.push_back(rule);
  const ImageFacts facts{.list_identifier = kList,
                         .image_identifier = kImage,
                         .sha512 = kSha,
                         .endorser_dn = kDn,
                         .is_new = false,
                         .size = 1};
  const ImageDecision decision = DecideImage(policy, {}, AdminChoice::kNone, facts);
  EXPECT_EQ(decision.reason,
            "denied by policy rule 1 (sha512 8b4c269a60da1061...; "
            "\"known bad build\\n(CVE-2024-0001)\")");
}

TEST(SelectionTest, FindDenyRuleOverSpan) {
  const std::vector<DenyRule> rules = {Image(kOtherImage), Sha(kShaUpper)};
  const ImageFacts facts{.list_identifier = kList,
                         .image_identifier = kImage,
                         .sha512 = kSha,
                         .endorser_dn = kDn,
                         .is_new = false,
                         .size = 1};
  EXPECT_EQ(FindDenyRule(rules, facts), std::optional<std::size_t>(1));
  EXPECT_FALSE(DenyRuleMatches(rules[0], facts));
  EXPECT_TRUE(DenyRuleMatches(rules[1], facts));
  EXPECT_EQ(FindDenyRule({}, facts), std::nullopt);
}

}  // namespace
}  // namespace vmc::catcher
