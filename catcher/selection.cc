#include "catcher/selection.h"

#include <algorithm>

#include "common/dn.h"
#include "common/log.h"

namespace vmc::catcher {
namespace {

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return LowerAscii(x) == LowerAscii(y);
         });
}

// The image's endorser, parsed once for all rules; null when it does not
// parse, which makes every endorser_dn rule match (fail closed).
class ImageEndorser {
 public:
  explicit ImageEndorser(std::string_view dn) : dn_(dn) {}

  bool Is(const DenyRule& rule) {
    if (!parsed_) {
      auto name = ParseDn(dn_);
      if (name.ok()) name_ = std::move(name).value();
      parsed_ = true;
    }
    // The loader parses every rule's DN; a rule without one is matched as
    // text never, so it matches (fail closed) like an unreadable image DN.
    if (name_ == nullptr || !rule.endorser_name) return true;
    return rule.endorser_name->Matches(name_.get());
  }

 private:
  std::string_view dn_;
  bool parsed_ = false;
  X509NamePtr name_;
};

bool RuleMatches(const DenyRule& rule, const ImageFacts& image, ImageEndorser& endorser) {
  if (!rule.sha512 && !rule.image && !rule.list && !rule.endorser_dn) return false;
  if (rule.sha512 && !EqualsIgnoringCase(*rule.sha512, image.sha512)) return false;
  if (rule.image && !EqualsIgnoringCase(*rule.image, image.image_identifier)) return false;
  if (rule.list && !EqualsIgnoringCase(*rule.list, image.list_identifier)) return false;
  if (rule.endorser_dn && !endorser.Is(rule)) return false;
  return true;
}

// sha512 8b4c269a60da1061..., image 488dcdc4-...; "known bad build"
std::string DescribeRule(const DenyRule& rule) {
  std::string out;
  const auto add = [&](std::string_view field, std::string_view value) {
    if (!out.empty()) out += ", ";
    out += std::string(field) + " " + EscapeForLog(value);
  };
  constexpr std::size_t kShownDigits = 16;
  if (rule.sha512) add("sha512", rule.sha512->substr(0, kShownDigits) + "...");
  if (rule.image) add("image", *rule.image);
  if (rule.list) add("list", *rule.list);
  if (rule.endorser_dn) add("endorser", *rule.endorser_dn);
  if (!rule.comment.empty()) out += "; \"" + EscapeForLog(rule.comment) + "\"";
  return out;
}

ImageDecision Decision(ImageState state, std::string reason) {
  return ImageDecision{state, std::move(reason), std::nullopt};
}

// Step 3 of the precedence; nullopt when the size passes.
std::optional<ImageDecision> CheckSize(const PolicyLimits& limits, const ImageFacts& image) {
  if (!limits.max_image_bytes) return std::nullopt;
  const std::string max = std::to_string(*limits.max_image_bytes);
  if (!image.size) {
    return Decision(ImageState::kTooLarge, "declares no size, and the policy's max_image_bytes (" +
                                               max + ") needs one to be checked");
  }
  if (*image.size <= *limits.max_image_bytes) return std::nullopt;
  return Decision(ImageState::kTooLarge, "declares " + std::to_string(*image.size) +
                                             " bytes, more than the policy's max_image_bytes (" +
                                             max + ")");
}

bool IsListed(const ImageSelection& selection, std::string_view image) {
  return std::any_of(selection.listed.begin(), selection.listed.end(),
                     [&](const std::string& id) { return EqualsIgnoringCase(id, image); });
}

// Step 5 of the precedence.
ImageDecision ApplySelection(const ImageSelection& selection, const ImageFacts& image) {
  switch (selection.mode) {
    case SelectionMode::kNone:
      return Decision(ImageState::kNotSelected,
                      "the subscription selects no images; 'catcher image accept' selects one");
    case SelectionMode::kListed:
      if (IsListed(selection, image.image_identifier)) {
        return Decision(ImageState::kWanted, "listed in the subscription's images");
      }
      return Decision(ImageState::kNotSelected, "not in the subscription's image list");
    case SelectionMode::kAll:
      if (image.is_new && selection.new_images == NewImages::kRefuse) {
        return Decision(ImageState::kNotSelected,
                        "new image awaits 'catcher image accept' (the subscription refuses new "
                        "images)");
      }
      return Decision(ImageState::kWanted, "the subscription selects all images");
  }
  return Decision(ImageState::kNotSelected, "unknown selection mode");
}

}  // namespace

std::string_view ImageStateName(ImageState state) {
  switch (state) {
    case ImageState::kWanted:
      return "wanted";
    case ImageState::kNotSelected:
      return "not-selected";
    case ImageState::kDenied:
      return "denied";
    case ImageState::kTooLarge:
      return "too-large";
  }
  return "unknown";
}

bool DenyRuleMatches(const DenyRule& rule, const ImageFacts& image) {
  ImageEndorser endorser(image.endorser_dn);
  return RuleMatches(rule, image, endorser);
}

std::optional<std::size_t> FindDenyRule(std::span<const DenyRule> rules, const ImageFacts& image) {
  ImageEndorser endorser(image.endorser_dn);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (RuleMatches(rules[i], image, endorser)) return i;
  }
  return std::nullopt;
}

ImageDecision DecideImage(const Policy& policy, const ImageSelection& selection, AdminChoice admin,
                          const ImageFacts& image) {
  if (const auto rule = FindDenyRule(policy.deny, image)) {
    return ImageDecision{ImageState::kDenied,
                         "denied by policy rule " + std::to_string(*rule + 1) + " (" +
                             DescribeRule(policy.deny[*rule]) + ")",
                         rule};
  }
  if (admin == AdminChoice::kRefused) {
    return Decision(ImageState::kNotSelected, "refused by the admin ('catcher image refuse')");
  }
  if (auto too_large = CheckSize(policy.limits, image)) return std::move(*too_large);
  if (admin == AdminChoice::kAccepted) {
    return Decision(ImageState::kWanted, "accepted by the admin ('catcher image accept')");
  }
  return ApplySelection(selection, image);
}

}  // namespace vmc::catcher
