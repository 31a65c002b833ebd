/**
 * Answers kept by key, so that a question asked again and again is worked out once: a scan or a
 * classification asks the same few questions device after device (a MAC's registry block, a
 * model's CVE families, a vendor's policies, a subnet's bounds). At most `kept` answers are held;
 * when full the keeper starts again, so keys that come and go cannot grow it without bound.
 */
export class KeptAnswers<Answer> {
  private readonly answers = new Map<string, Answer>();

  constructor(private readonly kept: number) {}

  /**
   * The answer for `key`, from `answer(key, context)` the first time. The context (the table asked)
   * is passed, not closed over, so that a hot path allocates no function per question.
   */
  of<Context>(key: string, answer: (key: string, context: Context) => Answer, context: Context): Answer {
    const known = this.answers.get(key);
    if (known !== undefined || this.answers.has(key)) return known as Answer;
    const worked = answer(key, context);
    if (this.answers.size >= this.kept) this.answers.clear();
    this.answers.set(key, worked);
    return worked;
  }
}

/**
 * KeptAnswers for each table a question is asked of (an OUI registry, a CVE table…), held in a
 * WeakMap: answers go with their table when it is dropped (a knowledge base loaded again).
 */
export class KeptAnswersPerTable<Table extends object, Answer> {
  private readonly byTable = new WeakMap<Table, KeptAnswers<Answer>>();

  constructor(private readonly kept: number) {}

  /** The answer for `key` of `table`, from `answer(key, table)` the first time for that table. */
  of(table: Table, key: string, answer: (key: string, table: Table) => Answer): Answer {
    let answers = this.byTable.get(table);
    if (!answers) {
      answers = new KeptAnswers(this.kept);
      this.byTable.set(table, answers);
    }
    return answers.of(key, answer, table);
  }
}
