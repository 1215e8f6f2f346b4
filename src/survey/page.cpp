#include "surveyd/survey/page.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "surveyd/core/crypto.hpp"
#include "surveyd/http/message.hpp"

namespace surveyd::survey {
namespace {

constexpr std::size_t kMaxCommentCodePoints = 2000;
constexpr int kMaxScore = 10;

// Every text a page shows, per language. Placeholders: {contact}, {n}.
struct Texts {
  const char* code;
  const char* name;  // the language's own name, for the switcher
  const char* language_label;
  const char* title;
  const char* heading;
  const char* about;  // "This survey is about {contact}."
  const char* one_minute;
  // That the page is the force's and how to check it ({force}): the texts have no room for it,
  // and a citizen wary of a link deserves to be told on the page's first lines.
  const char* genuine;
  const char* how_to;
  std::array<const char*, 5> questions;
  const char* low;   // "Not at all"
  const char* high;  // "Completely"
  // The choice that leaves a question unanswered, for a citizen who tapped a score and thought
  // better of it: without it a radio, once chosen, cannot be cleared (without JavaScript).
  const char* skip;
  const char* comment_label;
  const char* comment_hint;
  const char* submit;
  const char* not_monitored;
  const char* privacy;
  const char* privacy_link;
  const char* stop_link;
  const char* error_heading;
  const char* error_question;  // "Question {n}"
  const char* error_scale;
  const char* error_comment;
  const char* save_failed;
  const char* nothing_answered;
  const char* thanks_heading;
  const char* thanks_body;
  const char* received_body;  // thanks_body for an answer that called for help: no "it helps us"
  const char* already_heading;
  const char* already_body;
  const char* close_page;
  const char* not_found_heading;  // a link that leads to no survey (mistyped, cut short)
  const char* not_found_body;
  const char* closed_heading;  // a survey that closed before it was answered
  const char* closed_body;
  const char* contact_us;  // {101}, {999}
  const char* limited_heading;
  const char* limited_body;
  const char* unavailable_heading;
  const char* unavailable_body;
  const char* stop_heading;
  const char* stop_body;
  const char* stop_button;
  const char* stop_back;
  const char* stop_done_heading;
  const char* stop_done_body;
  // The survey no longer holds the number (retention erased it): the link cannot opt it out.
  const char* stop_unmatched_heading;
  const char* stop_unmatched_body;
  // What the survey is about, each with {when} ("on Tuesday 24 November").
  const char* call_999;
  const char* call_101;
  const char* live_chat;
  const char* online;
  const char* in_person;
  const char* contact;
  const char* visit;
  const char* closed;
};

const Texts kEnglish{
    .code = "en",
    .name = "English",
    .language_label = "Language",
    .title = "How did we do?",
    .heading = "How did we do?",
    .about = "This survey is about {contact}.",
    .one_minute = "It takes less than a minute.",
    .genuine =
        "This survey is from {force}. We will never ask you for money, passwords or bank "
        "details. To check that it is from us, call 101.",
    .how_to =
        "Choose a number from 0 (not at all) to 10 (completely). You can leave any question "
        "blank if you prefer not to say.",
    .questions = {"Were you treated politely and with respect?",
                  "Did the person you dealt with understand your situation and have the knowledge "
                  "to help you?",
                  "Were you happy with the time it took?", "Are you clear about what happens next?",
                  "Did we help with your issue?"},
    .low = "Not at all",
    .high = "Completely",
    .skip = "Prefer not to say",
    .comment_label = "Anything else you'd like to tell us?",
    .comment_hint =
        "Optional. Up to 2,000 characters. Please do not use this box to ask for help: we do not "
        "read it straight away. If you are in danger, call 999.",
    .submit = "Send my answers",
    .not_monitored =
        "This form is not monitored. To report a crime, call 101, or 999 in an "
        "emergency.",
    .privacy =
        "Answering is optional. We use your answers to improve our service, store them "
        "securely and keep them for a limited time.",
    .privacy_link = "How we use your information",
    .stop_link = "Stop survey texts",
    .error_heading = "Please check your answers",
    .error_question = "Question {n}",
    .error_scale = "Choose a number from 0 to 10, or leave it blank.",
    .error_comment = "Please keep your comment to 2,000 characters or fewer.",
    .save_failed =
        "Sorry, we could not save your answers just now. Please press the button "
        "again in a minute.",
    .nothing_answered = "Please answer at least one question, or write a comment, before you send.",
    .thanks_heading = "Thank you",
    .thanks_body = "We have received your answers. They help us improve our service.",
    .received_body = "We have received your answers.",
    .already_heading = "Thank you",
    .already_body = "We have already received your answers for this survey.",
    .close_page = "You can now close this page.",
    .not_found_heading = "This link does not work",
    .not_found_body =
        "We could not find a survey for this link. Please check that you copied the whole link "
        "from our text message, with nothing missing at the end.",
    .closed_heading = "This survey has closed",
    .closed_body =
        "This survey has closed, so it can no longer take answers. Thank you for wanting to "
        "tell us.",
    .contact_us = "To contact us, call {101}. In an emergency, call {999}.",
    .limited_heading = "Please wait",
    .limited_body =
        "There have been too many attempts from your connection. Please wait a "
        "minute and try again.",
    .unavailable_heading = "Sorry, there is a problem",
    .unavailable_body = "We cannot show this page right now. Please try again in a few minutes.",
    .stop_heading = "Stop survey texts",
    .stop_body = "If you stop them, we will not send any more survey texts to this phone number.",
    .stop_button = "Yes, stop survey texts",
    .stop_back = "Back to the survey",
    .stop_done_heading = "Survey texts stopped",
    .stop_done_body = "We will not send any more survey texts to this phone number.",
    .stop_unmatched_heading = "We can no longer match this link to your phone",
    .stop_unmatched_body =
        "We no longer keep the phone number this survey was sent to, so this link cannot stop "
        "our texts. To stop survey texts, reply STOP to any survey text from us.",
    .call_999 = "your call to 999 {when}",
    .call_101 = "your call to 101 {when}",
    .live_chat = "your live chat with us {when}",
    .online = "your online report {when}",
    .in_person = "your visit to a police station {when}",
    .contact = "your contact with us {when}",
    .visit = "the visit from an officer {when}",
    .closed = "your report, closed {when}",
};

// Polish: the contact phrases are in the genitive, as "Ta ankieta dotyczy ..." needs.
const Texts kPolish{
    .code = "pl",
    .name = "Polski",
    .language_label = "Język",
    .title = "Jak się spisaliśmy?",
    .heading = "Jak się spisaliśmy?",
    .about = "Ta ankieta dotyczy {contact}.",
    .one_minute = "Zajmie mniej niż minutę.",
    .genuine =
        "Ta ankieta pochodzi od {force}. Nigdy nie poprosimy Cię o pieniądze, hasła ani dane "
        "bankowe. Aby sprawdzić, czy pochodzi od nas, zadzwoń pod numer 101.",
    .how_to =
        "Wybierz liczbę od 0 (wcale) do 10 (całkowicie). Jeśli wolisz nie odpowiadać, "
        "możesz pominąć dowolne pytanie.",
    .questions = {"Czy potraktowano Cię uprzejmie i z szacunkiem?",
                  "Czy osoba, która zajmowała się Twoją sprawą, rozumiała Twoją sytuację i miała "
                  "wiedzę, aby Ci pomóc?",
                  "Czy czas załatwienia sprawy był dla Ciebie zadowalający?",
                  "Czy wiesz, co będzie się działo dalej?", "Czy pomogliśmy Ci w Twojej sprawie?"},
    .low = "Wcale",
    .high = "Całkowicie",
    .skip = "Wolę nie odpowiadać",
    .comment_label = "Czy chcesz nam jeszcze coś przekazać?",
    .comment_hint =
        "Nieobowiązkowe. Maksymalnie 2000 znaków. Nie używaj tego pola, aby prosić o pomoc: nie "
        "czytamy go od razu. Jeśli grozi Ci niebezpieczeństwo, zadzwoń pod 999.",
    .submit = "Wyślij odpowiedzi",
    .not_monitored =
        "Ten formularz nie jest na bieżąco sprawdzany. Aby zgłosić przestępstwo, "
        "zadzwoń pod numer 101, a w nagłym wypadku pod 999.",
    .privacy =
        "Udział jest dobrowolny. Twoje odpowiedzi wykorzystujemy do poprawy naszych usług, "
        "przechowujemy je w bezpieczny sposób i przez ograniczony czas.",
    .privacy_link = "Jak wykorzystujemy Twoje dane",
    .stop_link = "Nie chcę więcej SMS-ów z ankietami",
    .error_heading = "Sprawdź swoje odpowiedzi",
    .error_question = "Pytanie {n}",
    .error_scale = "Wybierz liczbę od 0 do 10 albo zostaw pytanie bez odpowiedzi.",
    .error_comment = "Komentarz może mieć najwyżej 2000 znaków.",
    .save_failed =
        "Przepraszamy, nie udało się teraz zapisać Twoich odpowiedzi. Za minutę "
        "naciśnij przycisk ponownie.",
    .nothing_answered =
        "Przed wysłaniem odpowiedz na co najmniej jedno pytanie albo napisz komentarz.",
    .thanks_heading = "Dziękujemy",
    .thanks_body = "Otrzymaliśmy Twoje odpowiedzi. Pomogą nam poprawić nasze usługi.",
    .received_body = "Otrzymaliśmy Twoje odpowiedzi.",
    .already_heading = "Dziękujemy",
    .already_body = "Twoje odpowiedzi na tę ankietę już do nas dotarły.",
    .close_page = "Możesz już zamknąć tę stronę.",
    .not_found_heading = "Ten link nie działa",
    .not_found_body =
        "Nie znaleźliśmy ankiety dla tego linku. Sprawdź, czy link z naszej wiadomości SMS został "
        "skopiowany w całości, bez brakujących znaków na końcu.",
    .closed_heading = "Ta ankieta jest już zamknięta",
    .closed_body =
        "Ta ankieta jest już zamknięta i nie przyjmuje odpowiedzi. Dziękujemy, że chcesz nam "
        "przekazać swoją opinię.",
    .contact_us =
        "Aby się z nami skontaktować, zadzwoń pod numer {101}. W nagłym wypadku zadzwoń pod "
        "numer {999}.",
    .limited_heading = "Prosimy chwilę poczekać",
    .limited_body =
        "Z Twojego połączenia było zbyt wiele prób. Odczekaj minutę i spróbuj "
        "ponownie.",
    .unavailable_heading = "Przepraszamy, wystąpił problem",
    .unavailable_body = "Nie możemy teraz wyświetlić tej strony. Spróbuj ponownie za kilka minut.",
    .stop_heading = "Rezygnacja z SMS-ów z ankietami",
    .stop_body = "Po rezygnacji nie będziemy już wysyłać ankiet SMS-em na ten numer telefonu.",
    .stop_button = "Tak, nie chcę więcej ankiet",
    .stop_back = "Wróć do ankiety",
    .stop_done_heading = "Rezygnacja przyjęta",
    .stop_done_body = "Nie będziemy już wysyłać ankiet SMS-em na ten numer telefonu.",
    .stop_unmatched_heading = "Nie możemy już powiązać tego linku z Twoim telefonem",
    .stop_unmatched_body =
        "Nie przechowujemy już numeru telefonu, na który wysłaliśmy tę ankietę, więc ten link "
        "nie może wstrzymać naszych wiadomości. Aby nie otrzymywać ankiet SMS-em, odpowiedz STOP "
        "na dowolną wiadomość z ankietą od nas.",
    .call_999 = "Twojego połączenia z numerem alarmowym 999 {when}",
    .call_101 = "Twojego połączenia z numerem 101 {when}",
    .live_chat = "Twojej rozmowy z nami na czacie {when}",
    .online = "Twojego zgłoszenia przez internet {when}",
    .in_person = "Twojej wizyty na komisariacie {when}",
    .contact = "Twojego kontaktu z nami {when}",
    .visit = "wizyty funkcjonariusza policji {when}",
    .closed = "Twojego zgłoszenia, zamkniętego {when}",
};

// Welsh: "am" (about) softly mutates what follows; every contact phrase starts with "eich" or a
// vowel, which it leaves unchanged.
const Texts kWelsh{
    .code = "cy",
    .name = "Cymraeg",
    .language_label = "Iaith",
    .title = "Sut wnaethon ni?",
    .heading = "Sut wnaethon ni?",
    .about = "Mae'r arolwg hwn am {contact}.",
    .one_minute = "Bydd yn cymryd llai na munud.",
    .genuine =
        "Mae'r arolwg hwn gan {force}. Fyddwn ni byth yn gofyn i chi am arian, cyfrineiriau na "
        "manylion banc. I wirio mai ni a'i hanfonodd, ffoniwch 101.",
    .how_to =
        "Dewiswch rif o 0 (ddim o gwbl) i 10 (yn llwyr). Gallwch adael unrhyw gwestiwn yn "
        "wag os byddai'n well gennych beidio ag ateb.",
    .questions = {"Gawsoch chi eich trin yn gwrtais ac â pharch?",
                  "Oedd y person y buoch chi'n delio ag ef neu hi yn deall eich sefyllfa, ac oedd "
                  "ganddo neu ganddi'r wybodaeth i'ch helpu?",
                  "Oeddech chi'n hapus â'r amser a gymerodd?",
                  "Ydych chi'n glir ynghylch beth fydd yn digwydd nesaf?",
                  "Wnaethon ni eich helpu gyda'ch mater?"},
    .low = "Ddim o gwbl",
    .high = "Yn llwyr",
    .skip = "Gwell gen i beidio ag ateb",
    .comment_label = "Oes unrhyw beth arall yr hoffech ei ddweud wrthym?",
    .comment_hint =
        "Dewisol. Hyd at 2,000 o nodau. Peidiwch â defnyddio'r blwch hwn i ofyn am help: nid ydym "
        "yn ei ddarllen yn syth. Os ydych chi mewn perygl, ffoniwch 999.",
    .submit = "Anfon fy atebion",
    .not_monitored =
        "Nid yw'r ffurflen hon yn cael ei monitro. I roi gwybod am drosedd, "
        "ffoniwch 101, neu 999 mewn argyfwng.",
    .privacy =
        "Does dim rhaid i chi ateb. Rydym yn defnyddio eich atebion i wella ein "
        "gwasanaeth, yn eu cadw'n ddiogel ac yn eu cadw am gyfnod cyfyngedig.",
    .privacy_link = "Sut rydym yn defnyddio eich gwybodaeth",
    .stop_link = "Atal negeseuon testun am arolygon",
    .error_heading = "Gwiriwch eich atebion",
    .error_question = "Cwestiwn {n}",
    .error_scale = "Dewiswch rif o 0 i 10, neu gadewch y cwestiwn yn wag.",
    .error_comment = "Cadwch eich sylw i 2,000 o nodau neu lai.",
    .save_failed =
        "Mae'n ddrwg gennym, nid oedd modd cadw eich atebion y tro hwn. Pwyswch y "
        "botwm eto ymhen munud.",
    .nothing_answered = "Atebwch o leiaf un cwestiwn, neu ysgrifennwch sylw, cyn anfon.",
    .thanks_heading = "Diolch",
    .thanks_body = "Rydym wedi cael eich atebion. Byddant yn ein helpu i wella ein gwasanaeth.",
    .received_body = "Rydym wedi cael eich atebion.",
    .already_heading = "Diolch",
    .already_body = "Rydym eisoes wedi cael eich atebion i'r arolwg hwn.",
    .close_page = "Gallwch gau'r dudalen hon nawr.",
    .not_found_heading = "Nid yw'r ddolen hon yn gweithio",
    .not_found_body =
        "Ni allem ddod o hyd i arolwg ar gyfer y ddolen hon. Gwiriwch eich bod wedi copïo'r "
        "ddolen gyfan o'n neges destun, heb ddim ar goll ar y diwedd.",
    .closed_heading = "Mae'r arolwg hwn wedi cau",
    .closed_body =
        "Mae'r arolwg hwn wedi cau, felly ni all gymryd atebion mwyach. Diolch am fod eisiau "
        "dweud wrthym.",
    .contact_us = "I gysylltu â ni, ffoniwch {101}. Mewn argyfwng, ffoniwch {999}.",
    .limited_heading = "Arhoswch funud",
    .limited_body =
        "Bu gormod o ymdrechion o'ch cysylltiad chi. Arhoswch funud a rhowch gynnig "
        "arall arni.",
    .unavailable_heading = "Mae'n ddrwg gennym, mae problem",
    .unavailable_body =
        "Ni allwn ddangos y dudalen hon ar hyn o bryd. Rhowch gynnig arall arni "
        "ymhen ychydig funudau.",
    .stop_heading = "Atal negeseuon testun am arolygon",
    .stop_body =
        "Os byddwch yn eu hatal, ni fyddwn yn anfon rhagor o negeseuon testun am "
        "arolygon i'r rhif ffôn hwn.",
    .stop_button = "Atal y negeseuon",
    .stop_back = "Yn ôl i'r arolwg",
    .stop_done_heading = "Negeseuon wedi'u hatal",
    .stop_done_body =
        "Ni fyddwn yn anfon rhagor o negeseuon testun am arolygon i'r rhif ffôn "
        "hwn.",
    .stop_unmatched_heading = "Ni allwn gysylltu'r ddolen hon â'ch ffôn mwyach",
    .stop_unmatched_body =
        "Nid ydym yn cadw'r rhif ffôn yr anfonwyd yr arolwg hwn ato mwyach, felly ni all y "
        "ddolen hon atal ein negeseuon. I atal negeseuon testun am arolygon, atebwch STOP i "
        "unrhyw neges arolwg gennym ni.",
    .call_999 = "eich galwad i 999 {when}",
    .call_101 = "eich galwad i 101 {when}",
    .live_chat = "eich sgwrs fyw gyda ni {when}",
    .online = "eich adroddiad ar-lein {when}",
    .in_person = "eich ymweliad â gorsaf heddlu {when}",
    .contact = "eich cyswllt â ni {when}",
    .visit = "ymweliad gan swyddog {when}",
    .closed = "eich adroddiad, a gaewyd {when}",
};

const std::array<const Texts*, 3> kAllTexts = {&kEnglish, &kPolish, &kWelsh};

// Where to get help now, on the thank-you page of an answer that raised a safeguarding alert.
// Numbers: the UK emergency and non-emergency police numbers, the Silent Solution (999 from a
// mobile, then 55, for callers who cannot speak), and free 24-hour national helplines.
struct Helpline {
  const char* name;
  const char* number;  // as written; the tel: link drops the spaces
  const char* note;
};
struct HelpTexts {
  const char* code;
  const char* heading;
  const char* emergency;  // {999}
  const char* silent;
  const char* non_emergency;          // {101}
  std::array<Helpline, 3> helplines;  // name empty: none
  const char* not_monitored;
};

const HelpTexts kHelpEnglish{
    "en",
    "If you need help now",
    "If you are in danger now, call {999}.",
    "If you cannot speak, call 999 from a mobile, stay on the line and press 55 when asked.",
    "To talk to the police when it is not an emergency, call {101}.",
    {{{"National Domestic Abuse Helpline", "0808 2000 247", "free, 24 hours"},
      {"Samaritans, if you are struggling to cope", "116 123", "free, 24 hours"},
      {"", "", ""}}},
    "We may not read this straight away, and cannot promise to contact you: if you need help "
    "now, please call.",
};

const HelpTexts kHelpPolish{
    "pl",
    "Jeśli potrzebujesz pomocy teraz",
    "Jeśli grozi Ci niebezpieczeństwo, zadzwoń pod numer {999}.",
    "Jeśli nie możesz mówić, zadzwoń pod 999 z telefonu komórkowego, nie rozłączaj się i naciśnij "
    "55, gdy usłyszysz prośbę.",
    "W sprawach niepilnych zadzwoń na policję pod numer {101}.",
    {{{"Krajowa infolinia ds. przemocy domowej (National Domestic Abuse Helpline)", "0808 2000 247",
       "bezpłatnie, całą dobę"},
      {"Samaritans, jeśli trudno Ci sobie poradzić", "116 123", "bezpłatnie, całą dobę"},
      {"", "", ""}}},
    "Możemy nie przeczytać tego od razu i nie możemy obiecać, że się z Tobą skontaktujemy: jeśli "
    "potrzebujesz pomocy teraz, zadzwoń.",
};

const HelpTexts kHelpWelsh{
    "cy",
    "Os oes angen help arnoch chi nawr",
    "Os ydych chi mewn perygl nawr, ffoniwch {999}.",
    "Os na allwch chi siarad, ffoniwch 999 o ffôn symudol, arhoswch ar y lein a phwyswch 55 pan "
    "ofynnir i chi.",
    "I siarad â'r heddlu pan nad yw'n argyfwng, ffoniwch {101}.",
    {{{"Llinell Gymorth Byw Heb Ofn (Live Fear Free)", "0808 80 10 800", "am ddim, 24 awr"},
      {"Llinell Gymorth Genedlaethol Cam-drin Domestig", "0808 2000 247", "am ddim, 24 awr"},
      {"Samariaid, llinell Gymraeg", "0808 164 0123", "am ddim"}}},
    "Efallai na fyddwn yn darllen hwn yn syth, ac ni allwn addo cysylltu â chi: os oes angen help "
    "arnoch chi nawr, ffoniwch.",
};

const HelpTexts& HelpFor(std::string_view language) {
  for (const HelpTexts* help : {&kHelpEnglish, &kHelpPolish, &kHelpWelsh}) {
    if (language == help->code) return *help;
  }
  return kHelpEnglish;
}

const Texts& TextsFor(std::string_view language) {
  for (const Texts* texts : kAllTexts) {
    if (language == texts->code) return *texts;
  }
  return kEnglish;
}

// "on Tuesday 24 November", "we wtorek, 24 listopada", "ddydd Mawrth 24 Tachwedd".
std::string OnDate(const LocalDateTime& local, std::string_view language) {
  const int weekday = std::clamp(local.weekday, 0, 6);
  const int month = std::clamp(local.month, 1, 12) - 1;
  const std::string day = std::to_string(local.day);
  if (language == "pl") {
    // Weekdays in the accusative with their preposition; months in the genitive.
    static constexpr const char* kDays[] = {"w niedzielę", "w poniedziałek", "we wtorek", "w środę",
                                            "w czwartek",  "w piątek",       "w sobotę"};
    static constexpr const char* kMonths[] = {"stycznia", "lutego",       "marca",     "kwietnia",
                                              "maja",     "czerwca",      "lipca",     "sierpnia",
                                              "września", "października", "listopada", "grudnia"};
    return std::string(kDays[weekday]) + ", " + day + " " + kMonths[month];
  }
  if (language == "cy") {
    // "ddydd": "dydd" softly mutated, as an adverb of time ("on Tuesday").
    static constexpr const char* kDays[] = {"ddydd Sul",     "ddydd Llun", "ddydd Mawrth",
                                            "ddydd Mercher", "ddydd Iau",  "ddydd Gwener",
                                            "ddydd Sadwrn"};
    static constexpr const char* kMonths[] = {"Ionawr", "Chwefror", "Mawrth",     "Ebrill",
                                              "Mai",    "Mehefin",  "Gorffennaf", "Awst",
                                              "Medi",   "Hydref",   "Tachwedd",   "Rhagfyr"};
    return std::string(kDays[weekday]) + " " + day + " " + kMonths[month];
  }
  static constexpr const char* kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
  static constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
  return std::string("on ") + kDays[weekday] + " " + day + " " + kMonths[month];
}

std::string Replace(std::string text, std::string_view placeholder, std::string_view value) {
  const std::size_t at = text.find(placeholder);
  if (at != std::string::npos) text.replace(at, placeholder.size(), value);
  return text;
}

// ---- UTF-8 ---------------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at `pos`, or 0 when it is not valid (overlong forms,
// surrogates and code points past U+10FFFF included).
std::size_t Utf8SequenceLength(std::string_view text, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(pos + i) & 0x3F);
  }
  static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kMinimum[length] || code_point > 0x10FFFF) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  return length;
}

// Cleans a comment as browsers send it: CRLF becomes LF (maxlength counts a line break as one
// character), invalid UTF-8 becomes U+FFFD, control characters other than tab and newline go
// (PostgreSQL refuses NUL), surrounding white space goes. Returns false when the input had
// invalid UTF-8.
bool CleanComment(std::string_view raw, std::string& out, std::size_t& code_points) {
  bool valid = true;
  out.clear();
  code_points = 0;
  for (std::size_t pos = 0; pos < raw.size();) {
    const std::size_t length = Utf8SequenceLength(raw, pos);
    if (length == 0) {
      valid = false;
      out += "\xEF\xBF\xBD";
      ++code_points;
      ++pos;
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(raw[pos]);
    if (length == 1 && (c < 0x20 || c == 0x7F) && c != '\n' && c != '\t') {
      if (c == '\r' && (pos + 1 >= raw.size() || raw[pos + 1] != '\n')) {
        out += '\n';  // a lone CR is a line break too
        ++code_points;
      }
      ++pos;
      continue;
    }
    out.append(raw.substr(pos, length));
    ++code_points;
    pos += length;
  }
  // Trim ASCII white space; each trimmed byte was one code point.
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\t'; };
  std::size_t begin = 0;
  while (begin < out.size() && is_space(out[begin])) ++begin;
  std::size_t end = out.size();
  while (end > begin && is_space(out[end - 1])) --end;
  code_points -= begin + (out.size() - end);
  out = out.substr(begin, end - begin);
  return valid;
}

std::optional<int> ParseScore(std::string_view text, bool& ok) {
  ok = true;
  if (text.empty()) return std::nullopt;
  if (text.size() > 2 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    ok = false;
    return std::nullopt;
  }
  const int value = std::stoi(std::string(text));
  if (value > kMaxScore) {
    ok = false;
    return std::nullopt;
  }
  return value;
}

// ---- Page frame ----------------------------------------------------------------------------

constexpr std::string_view kStyle =
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;font:18px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif;"
    "color:#0b0c0c;background:#f3f2f1}"
    "header{background:#1d3a6e;color:#fff;padding:10px 16px;display:flex;flex-wrap:wrap;"
    "justify-content:space-between;align-items:center;gap:4px 16px}"
    ".force{font-weight:700}"
    "header a{color:#fff;padding:9px 16px 9px 0;display:inline-block}"
    "main,footer{max-width:640px;margin:0 auto;padding:16px}"
    "main{background:#fff;padding-bottom:24px}"
    "footer{font-size:16px;color:#3d4347}"
    // Touch targets of 44 px (WCAG 2.5.5): the stop link is the whole of opting out on the page.
    "footer a{display:inline-block;padding:12px 0}"
    "h1{font-size:28px;line-height:1.2;margin:4px 0 12px}"
    "h2{font-size:20px;margin:0 0 8px}"
    "p{margin:0 0 12px}"
    "a{color:#1d5fa0}"
    "a:focus,button:focus,textarea:focus{outline:3px solid #fd0;outline-offset:0;"
    "box-shadow:0 0 0 6px #0b0c0c}"
    ".about{font-size:20px}"
    ".how{color:#3d4347}"
    "fieldset{border:0;border-top:1px solid #b1b4b6;margin:0;padding:16px 0 18px;min-width:0}"
    "legend{float:left;width:100%;padding:0;margin:0 0 10px;font-weight:700;font-size:19px}"
    // Phones: two rows, 0-5 over 6-10 shifted right, so 0 and 10 sit under their end labels.
    ".scale{clear:both;display:grid;grid-template-columns:repeat(6,minmax(0,1fr));gap:8px 6px}"
    ".scale label:nth-of-type(7){grid-column-start:2}"
    "@media (min-width:600px){.scale{grid-template-columns:repeat(11,minmax(0,1fr))}"
    ".scale label:nth-of-type(7){grid-column-start:auto}}"
    // Text enlarged (a 360 px phone at 200%: 180 px): four wider columns, so "10" fits its box.
    "@media (max-width:300px){.scale{grid-template-columns:repeat(4,minmax(0,1fr))}"
    ".scale label:nth-of-type(7){grid-column-start:auto}}"
    ".scale input{position:absolute;opacity:0;width:1px;height:1px;margin:0}"
    ".scale label{display:flex;align-items:center;justify-content:center;min-height:48px;"
    "border:2px solid #505a5f;border-radius:8px;background:#fff;font-weight:700;font-size:20px;"
    "cursor:pointer}"
    ".scale input:checked+label{background:#1d5fa0;border-color:#1d5fa0;color:#fff}"
    ".scale input:focus+label{outline:3px solid #fd0;box-shadow:0 0 0 6px #0b0c0c}"
    // "Prefer not to say": a row of its own under the scale, plainer than the scores.
    ".scale .skip{grid-column:1/-1;min-height:44px;font-weight:400;font-size:17px}"
    ".ends{clear:both;display:flex;justify-content:space-between;gap:12px;margin:0 0 8px;"
    "font-size:16px;color:#3d4347}"
    ".vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);"
    "white-space:nowrap}"
    ".cl{display:block;font-weight:700;font-size:19px;padding-top:16px;"
    "border-top:1px solid #b1b4b6}"
    ".hint{color:#3d4347;margin:4px 0 8px}"
    "textarea{display:block;width:100%;min-height:7em;padding:8px;font:inherit;color:inherit;"
    "border:2px solid #0b0c0c;border-radius:0;background:#fff}"
    "button{display:block;width:100%;min-height:52px;margin:20px 0 12px;padding:10px 16px;"
    "font:inherit;font-weight:700;color:#fff;background:#00703c;border:0;border-radius:8px;"
    "box-shadow:0 3px 0 #002d18;cursor:pointer}"
    ".invalid{border-left:5px solid #c3311b;padding-left:12px}"
    ".err{color:#c3311b;font-weight:700}"
    "textarea[aria-invalid=true]{border-color:#c3311b}"
    ".summary{border:4px solid #c3311b;padding:12px 16px;margin:0 0 16px}"
    ".summary ul{margin:0;padding-left:20px}"
    ".summary a{color:#c3311b;font-weight:700}"
    ".help{border:4px solid #1d3a6e;padding:12px 16px;margin:0 0 16px}"
    ".help ul{margin:0 0 12px;padding-left:20px}"
    ".help li{margin:0 0 6px}"
    ".help a{font-weight:700}"
    // The numbers to call: 44 px to tap without moving the lines apart, never split.
    "a[href^=\"tel:\"]{display:inline-block;padding:12px 4px;margin:-12px -4px;"
    "white-space:nowrap}";

std::string Base64OfHex(std::string_view hex) {
  std::string bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return crypto::Base64(bytes);
}

struct Switcher {
  std::string_view prefix;  // link target before "?lang=xx"
};

void Begin(std::string& out, const Texts& texts, const PageContext& ctx, std::string_view title,
           const Switcher* switcher) {
  out += "<!doctype html>\n<html lang=\"";
  out += texts.code;
  out +=
      "\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
      "<meta name=\"robots\" content=\"noindex,nofollow\">\n<title>";
  out += HtmlEscape(title);
  out += " - ";
  out += HtmlEscape(ctx.force_name);
  out += "</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<header><span class=\"force\">";
  out += HtmlEscape(ctx.force_name);
  out += "</span>";
  if (switcher != nullptr) {
    out += "<nav aria-label=\"";
    out += HtmlEscape(texts.language_label);
    out += "\">";
    for (const Texts* other : kAllTexts) {
      if (other == &texts) continue;
      out += "<a href=\"";
      out += HtmlEscape(switcher->prefix);
      out += "?lang=";
      out += other->code;
      out += "\" hreflang=\"";
      out += other->code;
      out += "\" lang=\"";
      out += other->code;
      out += "\">";
      out += HtmlEscape(other->name);
      out += "</a>";
    }
    out += "</nav>";
  }
  out += "</header>\n<main>\n";
}

bool IsSafeLink(std::string_view url) {
  return url.rfind("https://", 0) == 0 || url.rfind("http://", 0) == 0;
}

void End(std::string& out, const Texts& texts, const PageContext& ctx, std::string_view stop_href) {
  out += "</main>\n<footer>\n<p>";
  out += HtmlEscape(texts.privacy);
  if (!ctx.privacy_url.empty() && IsSafeLink(ctx.privacy_url)) {
    out += " <a href=\"";
    out += HtmlEscape(ctx.privacy_url);
    out += "\">";
    out += HtmlEscape(texts.privacy_link);
    out += "</a>";
  }
  out += "</p>\n";
  if (!stop_href.empty()) {
    out += "<p><a href=\"";
    out += HtmlEscape(stop_href);
    out += "\">";
    out += HtmlEscape(texts.stop_link);
    out += "</a></p>\n";
  }
  out += "</footer>\n</body>\n</html>\n";
}

std::string TelLink(std::string_view number) {
  std::string digits;
  for (char c : number) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  return "<a href=\"tel:" + digits + "\">" + HtmlEscape(number) + "</a>";
}

// Where to get help now: plain text and tel: links, no script (the page's CSP allows none).
void HelpBox(std::string& out, std::string_view language) {
  const HelpTexts& help = HelpFor(language);
  out += "<section class=\"help\" aria-labelledby=\"help-now\">\n<h2 id=\"help-now\">";
  out += HtmlEscape(help.heading);
  out += "</h2>\n<p>";
  out += Replace(HtmlEscape(help.emergency), "{999}", TelLink("999"));
  out += " ";
  out += HtmlEscape(help.silent);
  out += "</p>\n<p>";
  out += Replace(HtmlEscape(help.non_emergency), "{101}", TelLink("101"));
  out += "</p>\n<ul>\n";
  for (const Helpline& line : help.helplines) {
    if (*line.name == '\0') continue;
    out += "<li>";
    out += HtmlEscape(line.name);
    out += ": ";
    out += TelLink(line.number);
    out += " (";
    out += HtmlEscape(line.note);
    out += ")</li>\n";
  }
  out += "</ul>\n<p>";
  out += HtmlEscape(help.not_monitored);
  out += "</p>\n</section>\n";
}

// A page that says one thing: a heading and a paragraph, and what else it needs.
struct Message {
  const char* Texts::*heading;
  const char* Texts::*body;
  bool close_hint = false;  // "you can now close this page"
  bool help_now = false;    // where to get help now, first (HelpBox)
  bool contact_us = false;  // how to reach the force otherwise: 101, or 999 in an emergency
  std::string_view stop_token = {};  // the survey's link, whose stop link goes at the foot; or none
};

// The survey's stop link, relative to its page (/s/{token}), in the page's language.
std::string StopHref(std::string_view token, const Texts& texts) {
  return std::string(token) + "/stop" +
         (texts.code == kEnglish.code ? std::string() : std::string("?lang=") + texts.code);
}

std::string MessagePage(std::string_view language, const PageContext& ctx, const Message& message) {
  const Texts& texts = TextsFor(MatchLanguage(language));
  std::string out;
  Begin(out, texts, ctx, texts.*message.heading, nullptr);
  out += "<h1>";
  out += HtmlEscape(texts.*message.heading);
  out += "</h1>\n";
  if (message.help_now) HelpBox(out, texts.code);
  out += "<p>";
  out += HtmlEscape(texts.*message.body);
  out += "</p>\n";
  if (message.contact_us) {
    out += "<p>";
    out += Replace(Replace(HtmlEscape(texts.contact_us), "{101}", TelLink("101")), "{999}",
                   TelLink("999"));
    out += "</p>\n";
  }
  if (message.close_hint) {
    out += "<p>";
    out += HtmlEscape(texts.close_page);
    out += "</p>\n";
  }
  End(out, texts, ctx,
      message.stop_token.empty() ? std::string() : StopHref(message.stop_token, texts));
  return out;
}

void Radio(std::string& out, const Texts& texts, const std::string& key, int value, bool checked,
           bool invalid) {
  const std::string v = std::to_string(value);
  out +=
      "<input type=\"radio\" name=\"" + key + "\" id=\"" + key + "-" + v + "\" value=\"" + v + "\"";
  if (checked) out += " checked";
  if (invalid) out += " aria-invalid=\"true\" aria-describedby=\"" + key + "-err\"";
  out += "><label for=\"" + key + "-" + v + "\">" + v;
  if (value == 0 || value == kMaxScore) {
    out += "<span class=\"vh\"> ";
    out += HtmlEscape(value == 0 ? texts.low : texts.high);
    out += "</span>";
  }
  out += "</label>";
}

// "Prefer not to say": the question posted blank, as if never touched, so stored as no answer
// (ParseAnswers), never as a score.
void SkipRadio(std::string& out, const Texts& texts, const std::string& key, bool invalid) {
  out += "<input type=\"radio\" name=\"" + key + "\" id=\"" + key + "-skip\" value=\"\"";
  if (invalid) out += " aria-invalid=\"true\" aria-describedby=\"" + key + "-err\"";
  out += "><label class=\"skip\" for=\"" + key + "-skip\">";
  out += HtmlEscape(texts.skip);
  out += "</label>\n";
}

}  // namespace

// ---- Public --------------------------------------------------------------------------------

bool FormErrors::Has(std::string_view field) const {
  return std::find(fields.begin(), fields.end(), field) != fields.end();
}

const std::vector<std::string>& PageLanguages() {
  static const std::vector<std::string> kLanguages = {"en", "pl", "cy"};
  return kLanguages;
}

const std::vector<std::string>& QuestionKeys() {
  static const std::vector<std::string> kKeys = {"q1", "q2", "q3", "q4", "q5"};
  return kKeys;
}

std::vector<std::string> QuestionTexts(std::string_view language) {
  const Texts& texts = TextsFor(MatchLanguage(language));
  return {texts.questions.begin(), texts.questions.end()};
}

const std::vector<std::string>& QuestionLabels() {
  static const std::vector<std::string> kLabels = {
      "Polite and respectful", "Understanding and knowledge", "Happy with time taken",
      "Clear on further action", "Helped with the issue"};
  return kLabels;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string MatchLanguage(std::string_view requested) {
  std::string primary;
  for (char c : requested.substr(0, requested.find_first_of("-_"))) {
    primary.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  for (const auto& language : PageLanguages()) {
    if (primary == language) return language;
  }
  return "";
}

std::string LanguageFromAcceptLanguage(std::string_view header) {
  // Browsers list languages in order of preference; the q-values only repeat that order.
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    item = item.substr(0, item.find(';'));
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (auto language = MatchLanguage(item); !language.empty()) return language;
  }
  return "";
}

std::string_view InlineStyle() { return kStyle; }

const std::string& InlineStyleCspSource() {
  static const std::string kSource = "'sha256-" + Base64OfHex(crypto::Sha256Hex(kStyle)) + "'";
  return kSource;
}

std::string DescribeContact(const store::SurveyView& survey, const PageContext& ctx,
                            std::string_view language) {
  const Texts& texts = TextsFor(MatchLanguage(language));
  const auto zone = ctx.zone ? ctx.zone : TimeZone::Utc();
  const std::string when = OnDate(zone->ToLocal(survey.contact_at), texts.code);
  const char* phrase = texts.contact;
  switch (survey.event_type) {
    case EventType::kResourceDeparted:
      phrase = texts.visit;
      break;
    case EventType::kIncidentClosed:
      phrase = texts.closed;
      break;
    case EventType::kCallEnded: {
      const std::string channel = survey.channel.value_or("");
      if (channel == "999")
        phrase = texts.call_999;
      else if (channel == "101")
        phrase = texts.call_101;
      else if (channel == "live_chat")
        phrase = texts.live_chat;
      else if (channel == "online")
        phrase = texts.online;
      else if (channel == "in_person")
        phrase = texts.in_person;
      break;
    }
  }
  return Replace(phrase, "{when}", when);
}

std::string RenderSurveyPage(const store::SurveyView& survey, std::string_view token,
                             const PageContext& ctx, const store::SurveyAnswers* previous,
                             const FormErrors* errors) {
  const Texts& texts = TextsFor(MatchLanguage(survey.language));
  // Stopped already (this link, a STOP reply): nothing more to stop here.
  const std::string stop_href = survey.opted_out ? std::string() : StopHref(token, texts);
  std::string out;
  out.reserve(16 * 1024);
  const Switcher switcher{token};
  Begin(out, texts, ctx, texts.title, &switcher);

  out += "<h1>";
  out += HtmlEscape(texts.heading);
  out += "</h1>\n<p class=\"about\">";
  out += Replace(HtmlEscape(texts.about), "{contact}",
                 HtmlEscape(DescribeContact(survey, ctx, texts.code)));
  out += " ";
  out += HtmlEscape(texts.one_minute);
  out += "</p>\n<p class=\"how\">";
  out += Replace(HtmlEscape(texts.genuine), "{force}", HtmlEscape(ctx.force_name));
  out += "</p>\n";

  if (errors != nullptr && errors->help_now) HelpBox(out, texts.code);
  if (errors != nullptr && errors->Any()) {
    out += "<div class=\"summary\" role=\"alert\">\n";
    if (errors->save_failed) {
      out += "<p>";
      out += HtmlEscape(texts.save_failed);
      out += "</p>\n";
    }
    if (errors->nothing_answered) {
      out += "<p><a href=\"#q1\">";
      out += HtmlEscape(texts.nothing_answered);
      out += "</a></p>\n";
    }
    if (!errors->fields.empty()) {
      out += "<h2>";
      out += HtmlEscape(texts.error_heading);
      out += "</h2>\n<ul>\n";
      for (std::size_t i = 0; i < QuestionKeys().size(); ++i) {
        const std::string& key = QuestionKeys()[i];
        if (!errors->Has(key)) continue;
        out += "<li><a href=\"#" + key + "\">";
        out += Replace(HtmlEscape(texts.error_question), "{n}", std::to_string(i + 1));
        out += ": ";
        out += HtmlEscape(texts.error_scale);
        out += "</a></li>\n";
      }
      if (errors->Has("comment")) {
        out += "<li><a href=\"#comment\">";
        out += HtmlEscape(texts.error_comment);
        out += "</a></li>\n";
      }
      out += "</ul>\n";
    }
    out += "</div>\n";
  }

  out += "<form method=\"post\" action=\"";
  out += HtmlEscape(token);
  out += "\" accept-charset=\"utf-8\">\n<input type=\"hidden\" name=\"lang\" value=\"";
  out += texts.code;
  out += "\">\n<p class=\"how\">";
  out += HtmlEscape(texts.how_to);
  out += "</p>\n";

  for (std::size_t i = 0; i < QuestionKeys().size(); ++i) {
    const std::string& key = QuestionKeys()[i];
    const bool invalid = errors != nullptr && errors->Has(key);
    // A plain int: GCC 12 takes a std::optional compared here for uninitialised.
    const int chosen = previous != nullptr && previous->q[i] ? *previous->q[i] : -1;
    out += "<fieldset id=\"" + key + "\"";
    if (invalid) out += " class=\"invalid\" aria-describedby=\"" + key + "-err\"";
    out += ">\n<legend>" + std::to_string(i + 1) + ". ";
    out += HtmlEscape(texts.questions[i]);
    out += "</legend>\n";
    if (invalid) {
      out += "<p class=\"err\" id=\"" + key + "-err\">";
      out += HtmlEscape(texts.error_scale);
      out += "</p>\n";
    }
    out += "<div class=\"ends\" aria-hidden=\"true\"><span>0 ";
    out += HtmlEscape(texts.low);
    out += "</span><span>10 ";
    out += HtmlEscape(texts.high);
    out += "</span></div>\n<div class=\"scale\">\n";
    for (int value = 0; value <= kMaxScore; ++value) {
      Radio(out, texts, key, value, chosen == value, invalid);
      out += '\n';
    }
    SkipRadio(out, texts, key, invalid);
    out += "</div>\n</fieldset>\n";
  }

  const bool comment_invalid = errors != nullptr && errors->Has("comment");
  out += "<label class=\"cl\" for=\"comment\">";
  out += HtmlEscape(texts.comment_label);
  out += "</label>\n<p class=\"hint\" id=\"comment-hint\">";
  out += HtmlEscape(texts.comment_hint);
  out += "</p>\n";
  if (comment_invalid) {
    out += "<p class=\"err\" id=\"comment-err\">";
    out += HtmlEscape(texts.error_comment);
    out += "</p>\n";
  }
  out +=
      "<textarea id=\"comment\" name=\"comment\" rows=\"5\" maxlength=\"2000\" "
      "aria-describedby=\"comment-hint";
  out += comment_invalid ? " comment-err\" aria-invalid=\"true\">\n" : "\">\n";
  if (previous != nullptr) out += HtmlEscape(previous->comment);
  out += "</textarea>\n<button type=\"submit\">";
  out += HtmlEscape(texts.submit);
  out += "</button>\n</form>\n<p class=\"how\">";
  out += HtmlEscape(texts.not_monitored);
  out += "</p>\n";
  End(out, texts, ctx, stop_href);
  return out;
}

std::string RenderThanksPage(std::string_view language, const PageContext& ctx,
                             bool already_answered, bool help_now, std::string_view stop_token) {
  // Not "they help us improve our service" to someone who has just told us they are in danger.
  Message message{&Texts::thanks_heading, help_now ? &Texts::received_body : &Texts::thanks_body};
  if (already_answered) message = {&Texts::already_heading, &Texts::already_body};
  // As the closed page does: the survey is done, and the citizen may still need us (the audit
  // found the thank-you page the one page with neither the numbers nor the stop link).
  message.contact_us = true;
  message.close_hint = true;
  message.help_now = help_now;
  message.stop_token = stop_token;
  return MessagePage(language, ctx, message);
}

std::string RenderNotFoundPage(std::string_view language, const PageContext& ctx) {
  Message message{&Texts::not_found_heading, &Texts::not_found_body};
  message.contact_us = true;
  return MessagePage(language, ctx, message);
}

std::string RenderClosedPage(std::string_view language, const PageContext& ctx,
                             std::string_view stop_token, bool help_now) {
  Message message{&Texts::closed_heading, &Texts::closed_body};
  message.help_now = help_now;
  message.contact_us = true;
  message.stop_token = stop_token;
  return MessagePage(language, ctx, message);
}

std::string RenderRateLimitedPage(std::string_view language, const PageContext& ctx) {
  return MessagePage(language, ctx, {&Texts::limited_heading, &Texts::limited_body});
}

std::string RenderUnavailablePage(std::string_view language, const PageContext& ctx,
                                  bool help_now) {
  Message message{&Texts::unavailable_heading, &Texts::unavailable_body};
  message.help_now = help_now;
  return MessagePage(language, ctx, message);
}

std::string RenderOptOutUnmatchedPage(std::string_view language, const PageContext& ctx) {
  return MessagePage(language, ctx, {&Texts::stop_unmatched_heading, &Texts::stop_unmatched_body});
}

std::string RenderOptOutPage(std::string_view language, const PageContext& ctx, bool confirm,
                             std::string_view token) {
  if (!confirm) {
    Message message{&Texts::stop_done_heading, &Texts::stop_done_body};
    message.close_hint = true;
    return MessagePage(language, ctx, message);
  }
  const Texts& texts = TextsFor(MatchLanguage(language));
  std::string out;
  const Switcher switcher{"stop"};
  Begin(out, texts, ctx, texts.stop_heading, &switcher);
  out += "<h1>";
  out += HtmlEscape(texts.stop_heading);
  out += "</h1>\n<p>";
  out += HtmlEscape(texts.stop_body);
  // Relative to /s/{token}/stop: the form posts to itself, the way back is /s/{token}.
  out +=
      "</p>\n<form method=\"post\" action=\"stop\">\n<input type=\"hidden\" name=\"lang\" "
      "value=\"";
  out += texts.code;
  out += "\">\n<button type=\"submit\">";
  out += HtmlEscape(texts.stop_button);
  out += "</button>\n</form>\n<p><a href=\"../";
  out += HtmlEscape(token);
  if (texts.code != kEnglish.code) {
    out += "?lang=";
    out += texts.code;
  }
  out += "\">";
  out += HtmlEscape(texts.stop_back);
  out += "</a></p>\n";
  End(out, texts, ctx, "");
  return out;
}

bool ParseAnswers(std::string_view form_body, store::SurveyAnswers& answers, FormErrors& errors) {
  const auto& keys = QuestionKeys();
  std::array<int, 5> seen{};
  bool comment_seen = false;
  for (const auto& [name, value] : http::ParseForm(form_body)) {
    const auto key = std::find(keys.begin(), keys.end(), name);
    if (key != keys.end()) {
      const auto index = static_cast<std::size_t>(key - keys.begin());
      bool ok = true;
      const auto score = ParseScore(value, ok);
      // A radio group sends one value; two mean a hand-made request: refuse rather than guess.
      if (!ok || ++seen[index] > 1) {
        answers.q[index] = std::nullopt;
        if (!errors.Has(name)) errors.fields.push_back(name);
        continue;
      }
      answers.q[index] = score;
    } else if (name == "comment") {
      std::size_t code_points = 0;
      std::string cleaned;
      const bool valid = CleanComment(value, cleaned, code_points);
      const bool repeated = comment_seen;
      comment_seen = true;
      if (!repeated) answers.comment = std::move(cleaned);
      if ((repeated || !valid || code_points > kMaxCommentCodePoints) && !errors.Has("comment")) {
        errors.fields.push_back("comment");
      }
    } else if (name == "lang") {
      if (auto language = MatchLanguage(value); !language.empty()) answers.language = language;
    }
  }
  // Report errors in page order.
  std::vector<std::string> ordered;
  for (const auto& key : keys) {
    if (errors.Has(key)) ordered.push_back(key);
  }
  if (errors.Has("comment")) ordered.push_back("comment");
  errors.fields = std::move(ordered);
  if (errors.fields.empty()) {
    errors.nothing_answered = std::none_of(std::begin(answers.q), std::end(answers.q),
                                           [](const auto& q) { return q.has_value(); }) &&
                              answers.comment.empty();
  }
  return !errors.Any();
}

}  // namespace surveyd::survey
