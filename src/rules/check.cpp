// What `surveyd rules check` measures besides validity: how long each template's texts can get,
// and which type codes a force's log holds.
#include <algorithm>
#include <tuple>

#include <nlohmann/json.hpp>

#include "rules/ascii.hpp"
#include "rules/labels.hpp"
#include "surveyd/core/event_json.hpp"
#include "surveyd/rules/rules.hpp"

namespace surveyd::rules {

TemplateLength MeasureTemplate(std::string_view force_name, std::string_view group_id,
                               std::string_view group_name, std::string_view language,
                               std::string_view text, std::string_view link) {
  TemplateLength longest;
  longest.group = std::string(group_id);
  longest.language = std::string(language);
  bool first = true;
  // Every {channel} and {day} the text can take: 6 x 7 renderings.
  for (const auto& channel : labels::Channels()) {
    for (int weekday = 0; weekday < 7; ++weekday) {
      std::string rendered =
          RenderTemplate(text, {{"force", std::string(force_name)},
                                {"channel", labels::ChannelLabel(language, channel)},
                                {"day", labels::DayName(language, weekday)},
                                {"group", std::string(group_name)},
                                {"link", std::string(link)}});
      const sms::Length length = sms::Measure(rendered);
      if (first || std::tie(length.segments, length.units) >
                       std::tie(longest.length.segments, longest.length.units)) {
        longest.text = std::move(rendered);
        longest.length = length;
        first = false;
      }
    }
  }
  return longest;
}

std::vector<TemplateLength> MeasureTemplates(const RuleSet& rules, std::string_view link) {
  std::vector<TemplateLength> out;
  for (const SurveyGroup& group : rules.groups()) {
    for (const auto& [language, text] : group.templates) {
      // A two-way group's first text carries the first question instead of a link.
      const TwoWayTexts* texts = rules.replies().TwoWay(language);
      const std::string measured = group.mode == SurveyGroup::Mode::kTwoWay && texts
                                       ? SmsReplies::FirstText(text, *texts)
                                       : text;
      out.push_back(
          MeasureTemplate(rules.force_name(), group.id, group.name, language, measured, link));
    }
  }
  return out;
}

std::vector<TemplateLength> MeasureReplyTexts(const RuleSet& rules) {
  std::vector<TemplateLength> out;
  auto add = [&out](std::string what, const std::string& language, std::string text) {
    TemplateLength measured;
    measured.group = std::move(what);
    measured.language = language;
    measured.length = sms::Measure(text);
    measured.text = std::move(text);
    out.push_back(std::move(measured));
  };
  for (const auto& [language, texts] : rules.replies().two_way) {
    for (std::size_t i = 0; i < texts.questions.size(); ++i) {
      add("two_way/question " + std::to_string(i + 1), language, texts.questions[i]);
    }
    // Asked again, the text goes before the question: the longest question is what it costs.
    std::string longest;
    for (const std::string& question : texts.questions) {
      if (sms::Measure(question).units > sms::Measure(longest).units) longest = question;
    }
    add("two_way/ask_again", language, texts.ask_again + " " + longest);
    add("two_way/thanks", language, texts.thanks);
    add("two_way/closed", language, texts.closed);
  }
  for (const auto& [language, text] : rules.replies().opt_out_confirmation) {
    add("replies/opt_out_confirmation", language, text);
  }
  for (const auto& [language, text] : rules.replies().help_now) {
    add("replies/help_now", language, text);
  }
  for (const auto& [language, text] : rules.replies().link_reply) {
    add("replies/link_reply", language, text);
  }
  return out;
}

bool AsksForReplies(const RuleSet& rules) {
  const auto says_stop = [](std::string_view text) {
    const auto letter = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
    for (std::size_t at = text.find("STOP"); at != std::string_view::npos;
         at = text.find("STOP", at + 1)) {
      const bool starts = at == 0 || !letter(text[at - 1]);
      const bool ends = at + 4 == text.size() || !letter(text[at + 4]);
      if (starts && ends) return true;
    }
    return false;
  };
  return std::any_of(rules.groups().begin(), rules.groups().end(), [&](const SurveyGroup& g) {
    return g.mode == SurveyGroup::Mode::kTwoWay ||
           std::any_of(g.templates.begin(), g.templates.end(),
                       [&](const auto& entry) { return says_stop(entry.second); });
  });
}

TypeCodeSample ReadTypeCodeSample(std::string_view text) {
  TypeCodeSample sample;
  auto add = [&sample](std::string code) {
    if (std::find(sample.codes.begin(), sample.codes.end(), code) == sample.codes.end()) {
      sample.codes.push_back(std::move(code));
    }
  };
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    const std::string_view line = ascii::Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() != '{') {
      add(ascii::ToUpper(line));
      continue;
    }
    // An event: read as the feed reads it, so the codes are normalised the same way.
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    const EventReadResult read = EventFromJson(json);
    if (read.event && read.event->incident.type_code) {
      add(*read.event->incident.type_code);
    } else {
      ++sample.skipped_lines;
    }
  }
  return sample;
}

}  // namespace surveyd::rules
