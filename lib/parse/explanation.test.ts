import { cleanExplanation, MIN_EXPLANATION_WORDS } from './explanation';

describe('cleanExplanation', () => {
  describe('rule 1: the word "explanation" and the punctuation and spaces after it are dropped', () => {
    test('a leading "Explanation:" label, in any case and across newlines', () => {
      expect(cleanExplanation('Explanation: The child needs to know how to read in order to read a newspaper.')).toBe(
        'The child needs to know how to read in order to read a newspaper.',
      );
      expect(cleanExplanation('EXPLANATION: The law forbids selling beer to minors.')).toBe('The law forbids selling beer to minors.');
      expect(cleanExplanation('Explanation:\n\nReading requires literacy, so literacy is needed.')).toBe('Reading requires literacy, so literacy is needed.');
    });

    test('"Explanation -" in the middle of the text', () => {
      expect(cleanExplanation('The correct answer is broken law. Explanation - buying beer for minors is illegal.')).toBe(
        'The correct answer is broken law. buying beer for minors is illegal.',
      );
    });

    test('as in the study, also inside a longer word', () => {
      expect(cleanExplanation('There are many explanations for this answer here.')).toBe('There are many s for this answer here.');
    });
  });

  describe('rule 2: ". Answer" and the punctuation and spaces after it are dropped, the answer itself stays', () => {
    test('". Answer: 6" leaves "6" glued to the text before it', () => {
      expect(cleanExplanation('They planted 60 seeds with 10 per bed, so 60/10 = 6 beds. Answer: 6')).toBe(
        'They planted 60 seeds with 10 per bed, so 60/10 = 6 beds6',
      );
    });

    test('the match is case-sensitive: ". answer:" stays', () => {
      expect(cleanExplanation('The law forbids it. answer: yes it does')).toBe('The law forbids it. answer: yes it does');
    });
  });

  describe('rule 3: leading non-word characters are dropped', () => {
    test('a closing parenthesis left from a choice identifier', () => {
      expect(cleanExplanation(') knowing how to read because without the ability to read, the child cannot read.')).toBe(
        'knowing how to read because without the ability to read, the child cannot read.',
      );
    });

    test('quotes, colons and dashes', () => {
      expect(cleanExplanation('": Because reading a newspaper requires literacy, the answer is literacy.')).toBe(
        'Because reading a newspaper requires literacy, the answer is literacy.',
      );
      expect(cleanExplanation('- The child must be able to read the paper.')).toBe('The child must be able to read the paper.');
    });
  });

  describe('rule 4: math markup <<expression>>result becomes the expression', () => {
    test('a recorded svamp response, as captured by its explanation pattern', () => {
      const captured =
        'If they put 10 seeds in each flower bed and planted 60 seeds altogether, then they must have had 60/10 = <<60/10=6>>6 flower beds. Answer: \\boxed{';
      expect(cleanExplanation(captured)).toBe(
        'If they put 10 seeds in each flower bed and planted 60 seeds altogether, then they must have had 60/10 = 60/10=6 flower beds',
      );
    });

    test('"<<60/10=6>>6" becomes "60/10=6"', () => {
      expect(cleanExplanation('So they had <<60/10=6>>6 flower beds in all.')).toBe('So they had 60/10=6 flower beds in all.');
    });

    test('the match is greedy across several markups on one line, as in the study', () => {
      expect(cleanExplanation('First 3+2 = <<3+2=5>>5 and then 5*2 = <<5*2=10>>10 apples in total.')).toBe(
        'First 3+2 = 3+2=5>>5 and then 5*2 = <<5*2=10 apples in total.',
      );
    });
  });

  describe('rule 5: a LaTeX command with its opening brace, and every closing brace, are dropped', () => {
    test('"\\boxed{6}" becomes "6"', () => {
      expect(cleanExplanation('So the number of flower beds is \\boxed{6} in the end.')).toBe('So the number of flower beds is 6 in the end.');
    });

    test('a command after several backslashes goes too; a bare opening brace stays', () => {
      expect(cleanExplanation('The sum is \\\\textbf{12} apples and \\boxed{6} pears.')).toBe('The sum is 12 apples and 6 pears.');
      expect(cleanExplanation('The total is \\frac{60}{10} = \\boxed{6} flower beds in the garden.')).toBe('The total is 60{10 = 6 flower beds in the garden.');
    });
  });

  describe('rule 6: whitespace collapses to single spaces and the ends are stripped', () => {
    test('double spaces, blank lines and tabs', () => {
      expect(cleanExplanation('  Buying beer for minors is illegal.  It breaks\n\nthe\tlaw.  ')).toBe('Buying beer for minors is illegal. It breaks the law.');
    });

    test('Python whitespace such as U+00A0 and U+2003 collapses too', () => {
      expect(cleanExplanation('Reading\u00a0a newspaper\u2003requires literacy, clearly.')).toBe('Reading a newspaper requires literacy, clearly.');
    });
  });

  describe('rule 7: a leading lower-case fragment is dropped when another sentence follows', () => {
    test('the tail of a cut sentence before ". " goes', () => {
      expect(cleanExplanation('is the answer because it fits. The other options do not fit the question at all.')).toBe(
        'The other options do not fit the question at all.',
      );
    });

    test('a non-ASCII lower-case start counts as lower-case', () => {
      expect(cleanExplanation('élan is a word here. Another sentence follows after the first.')).toBe('Another sentence follows after the first.');
    });

    test('without a following sentence the lower-case text is kept', () => {
      expect(cleanExplanation('is the answer because it fits the question well.')).toBe('is the answer because it fits the question well.');
    });

    test('a first sentence starting with a capital or a digit is kept', () => {
      expect(cleanExplanation('3 apples. Then there are five more apples here.')).toBe('3 apples. Then there are five more apples here.');
      expect(cleanExplanation('Apples are red. Then there are five more apples here.')).toBe('Apples are red. Then there are five more apples here.');
    });
  });

  describe(`rule 8: fewer than ${MIN_EXPLANATION_WORDS} words is no explanation`, () => {
    test('four words give null, five are kept', () => {
      expect(MIN_EXPLANATION_WORDS).toBe(5);
      expect(cleanExplanation('One two three four.')).toBeNull();
      expect(cleanExplanation('One two three four five')).toBe('One two three four five');
    });

    test('words are counted after cleaning', () => {
      expect(cleanExplanation('explanation: one two three four five')).toBe('one two three four five');
      expect(cleanExplanation('Explanation: one two three four')).toBeNull();
      expect(cleanExplanation(' flower beds. Answer: \\boxed{6}.')).toBeNull();
    });

    test('an empty or blank text is no explanation', () => {
      expect(cleanExplanation('')).toBeNull();
      expect(cleanExplanation(' \n\t ')).toBeNull();
    });
  });
});
