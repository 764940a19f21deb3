// The VQA answer normalisation of the EvalAI / TextVQA evaluator (the processor LLaVA's TextVQA
// script uses), step by step, quirks included, so our numbers match the official ones:
//  1. lower-case; delete "," and "?"; "'s" -> " 's"; trim; newlines and tabs -> spaces;
//  2. punctuation: each mark of PUNCTUATION is deleted when the text has it next to a space (or the
//     text has a digit-comma-digit group), else replaced by a space;
//  3. periods not followed by a digit are deleted (at most 32: the official call passes re.UNICODE
//     (= 32) as Python's `count` argument);
//  4. words: number words zero..ten (and "none") become digits, articles a/an/the are dropped,
//     apostrophe-less contractions get their apostrophe back ("dont" -> "don't");
//  5. words joined by single spaces.
// The tables below are the evaluator's (they are data: the mapping the official scores depend on).

const PUNCTUATION = [';', '/', '[', ']', '"', '{', '}', '(', ')', '=', '+', '\\', '_', '-', '>', '<', '@', '`', ',', '?', '!'];

// Python: re.compile(r"(?!<=\d)(\.)(?!\d)") - the first group is a lookahead (a typo for a
// lookbehind in the original), so in effect: a period not followed by a digit.
const PERIOD_STRIP = /(?!<=\d)(\.)(?!\d)/g;
const COMMA_STRIP = /(?<=\d)(,)+(?=\d)/;
const PERIOD_STRIP_COUNT = 32;

const NUMBER_WORDS: Record<string, string> = {
  none: '0', zero: '0', one: '1', two: '2', three: '3', four: '4', five: '5', six: '6', seven: '7', eight: '8', nine: '9', ten: '10',
};

const ARTICLES = new Set(['a', 'an', 'the']);

// Keys with capitals ("Im", "Ive") can never match (the words are lower-cased first); kept as the
// evaluator has them.
const CONTRACTIONS: Record<string, string> = Object.fromEntries(
  [
    "aint ain't", "arent aren't", "cant can't", "couldve could've", "couldnt couldn't", "couldn'tve couldn't've",
    "couldnt've couldn't've", "didnt didn't", "doesnt doesn't", "dont don't", "hadnt hadn't", "hadnt've hadn't've",
    "hadn'tve hadn't've", "hasnt hasn't", "havent haven't", "hed he'd", "hed've he'd've", "he'dve he'd've", "hes he's",
    "howd how'd", "howll how'll", "hows how's", "Id've I'd've", "I'dve I'd've", "Im I'm", "Ive I've", "isnt isn't",
    "itd it'd", "itd've it'd've", "it'dve it'd've", "itll it'll", "let's let's", "maam ma'am", "mightnt mightn't",
    "mightnt've mightn't've", "mightn'tve mightn't've", "mightve might've", "mustnt mustn't", "mustve must've",
    "neednt needn't", "notve not've", "oclock o'clock", "oughtnt oughtn't", "ow's'at 'ow's'at", "'ows'at 'ow's'at",
    "'ow'sat 'ow's'at", "shant shan't", "shed've she'd've", "she'dve she'd've", "she's she's", "shouldve should've",
    "shouldnt shouldn't", "shouldnt've shouldn't've", "shouldn'tve shouldn't've", "somebody'd somebodyd",
    "somebodyd've somebody'd've", "somebody'dve somebody'd've", "somebodyll somebody'll", "somebodys somebody's",
    "someoned someone'd", "someoned've someone'd've", "someone'dve someone'd've", "someonell someone'll",
    "someones someone's", "somethingd something'd", "somethingd've something'd've", "something'dve something'd've",
    "somethingll something'll", "thats that's", "thered there'd", "thered've there'd've", "there'dve there'd've",
    "therere there're", "theres there's", "theyd they'd", "theyd've they'd've", "they'dve they'd've", "theyll they'll",
    "theyre they're", "theyve they've", "twas 'twas", "wasnt wasn't", "wed've we'd've", "we'dve we'd've", "weve we've",
    "werent weren't", "whatll what'll", "whatre what're", "whats what's", "whatve what've", "whens when's",
    "whered where'd", "wheres where's", "whereve where've", "whod who'd", "whod've who'd've", "who'dve who'd've",
    "wholl who'll", "whos who's", "whove who've", "whyll why'll", "whyre why're", "whys why's", "wont won't",
    "wouldve would've", "wouldnt wouldn't", "wouldnt've wouldn't've", "wouldn'tve wouldn't've", "yall y'all",
    "yall'll y'all'll", "y'allll y'all'll", "yall'd've y'all'd've", "y'alld've y'all'd've", "y'all'dve y'all'd've",
    "youd you'd", "youd've you'd've", "you'dve you'd've", "youll you'll", "youre you're", "youve you've",
  ].map((pair) => pair.split(' ') as [string, string]),
);

/** Step 2 + 3: punctuation and periods. */
export function processPunctuation(text: string): string {
  const joinDigits = COMMA_STRIP.test(text);
  let out = text;
  for (const p of PUNCTUATION) {
    const glued = text.includes(`${p} `) || text.includes(` ${p}`) || joinDigits;
    out = out.split(p).join(glued ? '' : ' ');
  }
  let n = 0;
  return out.replace(PERIOD_STRIP, (m) => (n++ < PERIOD_STRIP_COUNT ? '' : m));
}

/** Step 4 + 5: number words, articles, contractions. */
export function processDigitArticle(text: string): string {
  const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
  const kept = words.map((w) => NUMBER_WORDS[w] ?? w).filter((w) => !ARTICLES.has(w));
  return kept.map((w) => CONTRACTIONS[w] ?? w).join(' ');
}

/** The full normalisation of one answer (prediction or human answer). */
export function normalizeVqaAnswer(answer: string): string {
  let s = answer.toLowerCase().replaceAll(',', '').replaceAll('?', '').replaceAll("'s", " 's").trim();
  s = s.replaceAll('\n', ' ').replaceAll('\t', ' ').trim();
  return processDigitArticle(processPunctuation(s));
}

/**
 * VQA accuracy of a prediction against the human answers (10 in TextVQA/VQAv2): for each of the
 * leave-one-out subsets of the humans' answers, min(#matches in the subset / 3, 1); averaged over
 * the subsets. All answers are normalised first.
 */
export function vqaAccuracy(prediction: string, humanAnswers: string[]): number {
  if (humanAnswers.length === 0) throw new RangeError('Expected at least one human answer for VQA accuracy but received none');
  const pred = normalizeVqaAnswer(prediction);
  const gts = humanAnswers.map(normalizeVqaAnswer);
  const total = gts.filter((g) => g === pred).length;
  let sum = 0;
  for (const g of gts) sum += Math.min(1, (total - (g === pred ? 1 : 0)) / 3);
  return sum / gts.length;
}
