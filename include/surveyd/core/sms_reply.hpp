#pragma once
// Reading a citizen's reply: is it an opt-out, is it a score. Pure functions of the text, used
// by whoever handles inbound messages, whichever gateway they came through.
//
// Both read the text as words: ASCII letters and digits, plus Latin letters with accents folded
// to their base letter (so "PIĘĆ" reads "piec" and "ŵyth" reads "wyth"); apostrophes vanish
// ("don't" is "dont"); everything else (spaces, punctuation, emoji) separates words.
#include <optional>
#include <string_view>

namespace surveyd::sms_reply {

// True when the reply asks to hear no more. Where we draw the line (failing toward opting out,
// since texting someone who asked us to stop is worse than losing a survey):
//  1. Nothing but opt-out words and filler: "STOP", "stop.", "Stop please", "STOP STOP",
//     "stop it now", "Unsubscribe", "END", "cancel thanks", "quit", "STOPALL", "opt out".
//     Opt-out words: stop, stopall, unsubscribe, unsub, optout, cancel, end, quit (and Polish
//     wypisz, rezygnuje).
//  2. An unmistakable phrase anywhere: "unsubscribe"/"stopall"/"optout" as a word, "opt out",
//     "no more texts" (text/texts/messages/sms...), "stop texting" (messaging/sending/
//     contacting...), "don't text me", "do not contact", "remove me", "take me off".
//  3. "stop" as the first or the last word of a short reply (at most 8 words): "Stop sending
//     these", "Please just stop", "I said stop" -- unless a negation comes right before it:
//     "don't stop", "never stop", "not stop", "can't stop".
// Not opt-outs: "don't stop the good work", "keep going, don't stop", "the end was fine",
// "8", a reply that mentions "stop" in the middle of a longer sentence ("they told me to stop at
// the lights and wait"), and the weak words end/cancel/quit anywhere but alone.
bool IsOptOut(std::string_view text);

// A 0-10 score given by text: "8", " 8/10 ", "8 / 10", "8 out of 10", "eight", "Eight!",
// "10", "zero", "I'd say 7", "score 9 thanks", "8 👍"; Welsh (wyth, deg, dim...) and Polish (osiem,
// dziesięć, zero...) number words. nullopt unless there is exactly one number from 0 to 10 and
// every other word is filler ("i", "would", "say", "give", "it", "a", "score", "thanks"...):
// "7 or 8", "11", "8.5", "-3", "called at 9 and waited" and "8 but rude" are not scores (the
// conversation asks again, then keeps the text as a comment).
std::optional<int> ParseScore(std::string_view text);

}  // namespace surveyd::sms_reply
