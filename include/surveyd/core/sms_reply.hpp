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

// True when the reply asks to hear no more. Both mistakes cost the citizen: a false opt-out
// silently drops their answer (a two-way answer is not read as one) and every future survey; a
// missed one keeps texting someone who asked us to stop, which is worse. So the rules fail
// toward opting out, and stand aside only where the words plainly are not said to us.
//
// First, a word spelt out a letter at a time is read as the word when it is an opt-out word
// ("S T O P", "s.t.o.p", "E-N-D"), and forms of several words are read as one: "opt me out" and
// "opt out" as "optout", "un-subscribe" as "unsubscribe", "no more" (Welsh "dim mwy", "dim
// rhagor") as "nomore", "leave me alone", "not interested", "no thanks" (Welsh "dim diolch") and
// "wrong number" as one word each, "stp" and Welsh "stopio", "stopiwch" as "stop", and "stop and
// search" (the police power the survey may be about) as a word that is not "stop".
// Then a reply opts out when:
//  1. It is nothing but opt-out words and filler: "STOP", "stop.", "Stop please", "STOP STOP",
//     "stop it now", "Unsubscribe", "END", "cancel thanks", "quit", "STOPALL", "opt out",
//     "No more please", "leave me alone", "Not interested", "I'm not interested, thanks", "No
//     thanks", "dim diolch", "Sorry, wrong number". Opt-out words: stop, stopall, unsubscribe,
//     unsub, optout, cancel, end, quit, no more, leave me alone, not interested, no thanks, wrong
//     number (and Polish wypisz, rezygnuje). "wrong number" also with the words of a sentence
//     saying so: "You have the wrong number", "I think you've got the wrong number".
//  2. An unmistakable phrase is anywhere: "unsubscribe"/"stopall"/"optout" as a word, "no more
//     texts" (text/texts/messages/sms..., "no more of your texts", Welsh "dim mwy o
//     negeseuon"), "stop texting" (messaging/sending/contacting...), "don't text me", "do not
//     contact", "remove me", "delete my number" (delete/erase/remove me/my), "take me off", and
//     not wanting our messages: "don't want" / "do not want" / "no longer want" followed within
//     4 words by texts, messages, surveys, contact(ed), texted... ("I don't want any more
//     texts", "I dont want to be contacted") -- unless they come "from"/"by" someone else ("I
//     don't want any more texts from him" is about whoever sends them).
//  3. "stop" or "leave me alone" is the first or the last word of a short reply (at most 8
//     words): "Stop sending these", "Please just stop", "I said stop", "Leave me alone, I'm
//     busy" -- unless, as its last word, it is said to someone else: negated ("don't stop",
//     "never stop", "don't ever stop", "can't stop", "won't leave me alone") or reported ("the
//     officer told me to stop", "I was asked to stop": a telling verb with someone other than
//     "you" as who was told, or in the passive). "I told you to stop" and "I asked to stop" are
//     said to us: they opt out.
// Not opt-outs: "don't stop the good work", "Keep it up, don't ever stop", "Stop and search was
// handled well", "the end was fine", "8", a reply that mentions "stop" in the middle of a
// longer sentence ("Please don't ever stop what you do", "they told me to stop at the lights and
// wait"), and the weak words end/cancel/quit/no more/not interested/no thanks anywhere but alone
// with filler ("The officer was not interested"). Nor "no" or Welsh "dim" (none, zero) alone:
// in a two-way conversation they may answer the question ("dim" is a score of 0, "no" is asked
// again).
bool IsOptOut(std::string_view text);

// A 0-10 score given by text: "8", " 8/10 ", "8 / 10", "8 out of 10", "eight", "Eight!",
// "10", "zero", "I'd say 7", "score 9 thanks", "8 👍"; Welsh (wyth, deg, dim...) and Polish (osiem,
// dziesięć, zero...) number words. nullopt unless there is exactly one number from 0 to 10 and
// every other word is filler ("i", "would", "say", "give", "it", "a", "score", "thanks"...):
// "7 or 8", "11", "8.5", "-3", "called at 9 and waited" and "8 but rude" are not scores (the
// conversation asks again, then keeps the text as a comment).
std::optional<int> ParseScore(std::string_view text);

}  // namespace surveyd::sms_reply
