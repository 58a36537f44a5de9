//! The audit of a registry against its own log, as a mirror would do it.
//!
//! One pass over the journal checks each entry's encoding and leaf and rebuilds the tree. The
//! same pass folds the events into a [`Replay`], which knows nothing of the registry's tables.
//! Then everything the registry publishes from those tables is compared with the replay: the
//! subjects, every record's standing, and every stored assessment, recomputed from the events
//! under the rulebook it names. Each disagreement names its entry, record or subject.

use std::collections::{BTreeMap, BTreeSet};

use probity_core::{Event, EventBody, SubjectId};
use probity_rules::Replay;
use probity_store::{JournalEntry, LogNodes, RecordStanding, RecordStatus, Store};
use probity_tlog::{Frontier, Hash, leaf_hash};
use serde::Serialize;

use crate::{Progress, Registry, RegistryError};

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Audit {
    /// Entries checked.
    pub size: u64,
    /// The root recomputed from the journal.
    pub recomputed_root: Hash,
    /// The root the registry's log states.
    pub stated_root: Hash,
    /// Roots recomputed from the journal at the sizes asked for.
    pub roots_at: Vec<(u64, Hash)>,
    /// Subjects compared with the replay.
    pub subjects: u64,
    /// Records compared with the replay.
    pub records: u64,
    /// Stored assessments recomputed from the replay and compared.
    pub assessments: u64,
    /// Stored assessments that do not reflect their subject's latest event (a writer stopped
    /// between appending and rating): never served, and re-rated by the next sweep, so not
    /// compared.
    pub stale: u64,
    /// Every disagreement, each naming its entry, record or subject.
    pub problems: Vec<String>,
}

/// Journal entries read per page.
const PAGE: usize = 10_000;

/// The journal half of an audit, fed one entry at a time from wherever the entries come from
/// (a registry's store, or what a server publishes): each entry decodes canonically, its leaf is
/// the one the log states, the tree rebuilt from the entries is the log's, withheld bodies match
/// the redaction events, and the events fold into a [`Replay`].
#[derive(Debug)]
pub struct JournalPass {
    size: u64,
    at: Vec<u64>,
    frontier: Frontier,
    // The replay stops at the first entry it cannot have: what it would say after a gap is not
    // the registry's state.
    replay: Option<Replay>,
    // Entries whose bodies are withheld, and those redaction events say they withheld: the
    // two must be the same.
    withheld: BTreeSet<u64>,
    redacted: BTreeMap<u64, u64>,
    // Likewise entries published without their free text, and those the events withholding
    // text name.
    text_withheld: BTreeSet<u64>,
    text_withheld_by: BTreeMap<u64, u64>,
    next: u64,
    roots_at: Vec<(u64, Hash)>,
    problems: Vec<String>,
}

impl JournalPass {
    /// A pass over a log of `size` entries that also recomputes the roots at the sizes in `at`.
    pub fn new(size: u64, at: &[u64]) -> Self {
        let mut pass = Self {
            size,
            at: at.to_vec(),
            frontier: Frontier::default(),
            replay: Some(Replay::new()),
            withheld: BTreeSet::new(),
            redacted: BTreeMap::new(),
            text_withheld: BTreeSet::new(),
            text_withheld_by: BTreeMap::new(),
            next: 0,
            roots_at: Vec::new(),
            problems: Vec::new(),
        };
        for &s in at {
            if s > size {
                pass.problems.push(format!(
                    "a checkpoint of size {s} was seen, but the journal has only {size} entries"
                ));
            } else if s == 0 {
                pass.roots_at.push((0, probity_tlog::EMPTY_ROOT));
            }
        }
        pass
    }

    /// The index of the entry expected next.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Notes a problem found outside the pass (the source failing, for example).
    pub fn problem(&mut self, problem: String) {
        self.problems.push(problem);
    }

    /// Feeds one entry, with the leaf hash the log states for it (or why there is none).
    /// Returns the nodes of the tree (level, index, hash) that the entry completes, level 0
    /// (its leaf, compared here) first, for a caller that can read the log's stored nodes to
    /// compare.
    pub fn entry(
        &mut self,
        entry: &JournalEntry,
        stated_leaf: Result<Hash, String>,
    ) -> Vec<(u8, u64, Hash)> {
        let mut next = self.next;
        if entry.index != next {
            self.problems
                .push(format!("journal entry {next} is missing (the next one is {})", entry.index));
            self.replay = None;
            next = entry.index;
        }
        let problems = &mut self.problems;
        if entry.published().is_none() {
            self.withheld.insert(next);
            if let Some(r) = &mut self.replay
                && let Err(e) = r.withheld(next)
            {
                problems.push(e.to_string());
            }
        } else {
            match Event::decode(&entry.bytes) {
                Ok(event) => {
                    if event.encode() != entry.bytes {
                        problems.push(format!("entry {next}: not in canonical encoding"));
                    }
                    if entry.text_withheld() {
                        // Published without its free text: nothing but the text may differ
                        // from what the leaf commits to, and the text must be withheld.
                        self.text_withheld.insert(next);
                        if event.without_free_text() != event {
                            problems.push(format!(
                                "entry {next}: its text is said to be withheld, but it publishes text"
                            ));
                        }
                    }
                    // What a redaction or a text withholding says it withheld, to compare
                    // with what is withheld at the end.
                    let listed = match &event.body {
                        EventBody::RecordRedacted { entries, .. } => {
                            Some((entries, &mut self.redacted, "redacts"))
                        }
                        EventBody::RecordTextWithheld { entries, .. } => {
                            Some((entries, &mut self.text_withheld_by, "withholds the text of"))
                        }
                        _ => None,
                    };
                    if let Some((entries, by, verb)) = listed {
                        for &e in entries {
                            if e >= next {
                                problems.push(format!(
                                    "entry {next}: {verb} entry {e}, which is not before it"
                                ));
                            }
                            by.insert(e, next);
                        }
                    }
                    if let Some(r) = &mut self.replay
                        && let Err(e) = r.apply(next, &event)
                    {
                        problems.push(e.to_string());
                    }
                }
                Err(e) => {
                    problems.push(format!("entry {next}: does not decode as an event: {e}"));
                    self.replay = None;
                }
            }
        }
        let leaf = leaf_hash(&entry.leaf_data());
        match stated_leaf {
            Ok(stated) if stated != leaf => problems
                .push(format!("entry {next}: its leaf in the log does not match the journal")),
            Ok(_) => {}
            Err(e) => problems.push(format!("entry {next}: no leaf in the log ({e})")),
        }
        let completed = self.frontier.append(leaf);
        self.next = next + 1;
        if self.at.contains(&self.next) {
            self.roots_at.push((self.next, self.frontier.root()));
        }
        completed
    }

    /// Ends the pass against the root the log states for its size. Returns the audit so far
    /// and the replay, if the whole journal could be replayed.
    pub fn finish(mut self, stated_root: Hash) -> (Audit, Option<Replay>) {
        let size = self.size;
        if self.next < size {
            self.problems.push(format!(
                "the journal ends at entry {}, but the log has {size} leaves",
                self.next
            ));
        }
        for i in self.withheld.iter().filter(|i| !self.redacted.contains_key(i)) {
            self.problems.push(format!(
                "entry {i}: its body is withheld, but no record_redacted event withholds it"
            ));
        }
        for (i, by) in self.redacted.iter().filter(|(i, _)| !self.withheld.contains(i)) {
            self.problems.push(format!(
                "entry {i}: redacted by entry {by}, but its body is still published"
            ));
        }
        for i in self.text_withheld.iter().filter(|i| !self.text_withheld_by.contains_key(i)) {
            self.problems.push(format!(
                "entry {i}: its text is withheld, but no record_text_withheld event withholds it"
            ));
        }
        for (i, by) in self.text_withheld_by.iter() {
            if !self.text_withheld.contains(i) && !self.withheld.contains(i) {
                self.problems.push(format!(
                    "entry {i}: its text was withheld by entry {by}, but is still published"
                ));
            }
        }
        let recomputed_root = self.frontier.root();
        if recomputed_root != stated_root {
            self.problems.push(format!(
                "the log's root at size {size} is {}, but the journal gives {}",
                probity_tlog::hex(&stated_root),
                probity_tlog::hex(&recomputed_root)
            ));
        }
        let replay = self.replay.filter(|r| r.size() == size);
        if replay.is_none() {
            self.problems.push(
                "what the registry publishes was not compared with the journal: it could not be \
                 replayed whole"
                    .to_owned(),
            );
        }
        let audit = Audit {
            size,
            recomputed_root,
            stated_root,
            roots_at: self.roots_at,
            subjects: 0,
            records: 0,
            assessments: 0,
            stale: 0,
            problems: self.problems,
        };
        (audit, replay)
    }
}

impl Registry {
    /// Audits the registry against its journal: every entry is a canonical encoding of a valid
    /// event whose leaf is the log's; the tree rebuilt from the journal has the log's root; and
    /// the subjects, records and stored assessments the registry publishes are what replaying
    /// the events gives. Roots at each size in `at` are recomputed from the journal alone.
    pub fn audit(&self, at: &[u64], progress: &dyn Progress) -> Result<Audit, RegistryError> {
        let size = self.log_size()?;
        let mut pass = JournalPass::new(size, at);
        while pass.next() < size {
            let page = self.store.journal(pass.next(), PAGE)?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                let stated = self.store.log_node(0, entry.index).map_err(|e| e.to_string());
                // Every stored node of the tree, not only those the root is made of: proofs
                // and tiles are served from them.
                for (level, index, want) in pass.entry(entry, stated) {
                    if level == 0 {
                        continue;
                    }
                    let (first, end) = (index << level, (index + 1) << level);
                    match self.store.log_node(level, index) {
                        Ok(stored) if stored == want => {}
                        Ok(_) => pass.problem(format!(
                            "the log's node at level {level}, index {index} (entries {first} to \
                             {}) is not the hash of those entries",
                            end - 1
                        )),
                        Err(e) => pass.problem(format!(
                            "the log's node at level {level}, index {index} cannot be read: {e}"
                        )),
                    }
                }
            }
            progress.advance(0, page.len() as u64);
        }
        let (mut audit, replay) = pass.finish(probity_tlog::root(&LogNodes(self.store()), size)?);
        if let Some(replay) = replay {
            self.audit_state(&replay, &mut audit, progress)?;
        }
        Ok(audit)
    }

    /// Compares what the registry publishes from its tables with the replayed journal.
    fn audit_state(
        &self,
        replay: &Replay,
        audit: &mut Audit,
        progress: &dyn Progress,
    ) -> Result<(), RegistryError> {
        let problems = &mut audit.problems;
        // Subjects: the tables hold exactly those the journal registered.
        let mut after: Option<SubjectId> = None;
        loop {
            let page = self.store.subject_ids(after.as_ref(), PAGE)?;
            let Some(last) = page.last().copied() else { break };
            for id in page.iter().filter(|id| !replay.holds(id)) {
                problems.push(format!(
                    "subject {id}: in the registry's tables, but no event registers it"
                ));
            }
            after = Some(last);
        }
        for id in replay.subjects() {
            audit.subjects += 1;
            if self.store.subject(id)?.is_none() {
                problems.push(format!("subject {id}: registered in the journal, but missing from the registry's tables"));
            }
            let (Some(got), Some(want)) = (self.store.subject_columns(id)?, replay.subject(id))
            else {
                continue;
            };
            let mut differ = Vec::new();
            if got.name != want.name {
                differ.push(format!("name `{}` (the log gives `{}`)", got.name, want.name));
            }
            let established = replay.established(id).flatten();
            if got.established != established {
                differ.push(format!(
                    "established {} (the log gives {})",
                    opt(got.established),
                    opt(established)
                ));
            }
            if got.event != want.registered {
                differ.push(format!(
                    "registered at entry {} (the log gives {})",
                    got.event, want.registered
                ));
            }
            // A later latest event only makes readers compute; an earlier one would let an
            // assessment that misses an event be served.
            if got.last_event < want.last_event {
                differ.push(format!(
                    "latest event {} (the log has one at {})",
                    got.last_event, want.last_event
                ));
            }
            if !differ.is_empty() {
                problems.push(format!("subject {id}: published with {}", differ.join(", ")));
            }
        }
        problems.extend(standing_problems(self.store.as_ref(), replay)?);
        problems.extend(exception_and_case_problems(self.store.as_ref(), replay)?);
        problems.extend(inspection_problems(self.store.as_ref(), replay)?);

        // Records: each one's standing, in the order they were filed.
        let mut records: Vec<_> = replay.records().collect();
        records.sort_by_key(|(_, r)| r.filed);
        for chunk in records.chunks(PAGE) {
            for (key, want) in chunk {
                audit.records += 1;
                let Some(got) = self.store.record(key)? else {
                    problems.push(format!(
                        "record {key}: filed at entry {}, but missing from the registry's tables",
                        want.filed
                    ));
                    continue;
                };
                let status = match (want.withdrawn, want.corrected) {
                    (true, _) => RecordStatus::Withdrawn,
                    (false, true) => RecordStatus::Corrected,
                    (false, false) => RecordStatus::Filed,
                };
                let mut differ = Vec::new();
                let mut compare = |field: &str, published: String, logged: String| {
                    if published != logged {
                        differ.push(format!("{field} {published} (the log gives {logged})"));
                    }
                };
                compare("filed at", got.filed_index.to_string(), want.filed.to_string());
                compare("status", got.status.as_str().into(), status.as_str().into());
                compare("subject", got.record.subject.to_string(), want.subject.to_string());
                compare("kind", got.record.kind.to_string(), want.kind.clone());
                compare("effective", got.record.effective.to_string(), want.effective.to_string());
                compare("repaired", opt(got.repaired), opt(want.repaired));
                compare("disputed", got.disputed.to_string(), want.disputed.to_string());
                if !differ.is_empty() {
                    problems.push(format!("record {key}: published with {}", differ.join(", ")));
                }
            }
            progress.advance(0, chunk.len() as u64);
        }

        let held = self.store.counts()?.records;
        if held != records.len() as u64 {
            problems.push(format!(
                "the registry's tables hold {held} records, but the journal leaves {}",
                records.len()
            ));
        }

        // Assessments: each stored one is what the engine gives from the replayed records,
        // under the rulebook it names, on the date it was rated.
        let Some(books) = replay.rulebooks() else { return Ok(()) };
        let mut listed = std::collections::HashSet::new();
        let mut stale = BTreeSet::new();
        for id in replay.subjects() {
            let Some(row) = self.store.assessment(id)? else { continue };
            if replay.subject(id).is_some_and(|s| row.log_size <= s.last_event) {
                audit.stale += 1;
                stale.insert(*id);
                continue;
            }
            audit.assessments += 1;
            for l in &row.lists {
                listed.insert((*id, l.clone()));
            }
            let Some(book) = books.version(&row.rulebook, &row.version) else {
                problems.push(format!(
                    "subject {id}: rated under rulebook {} version {}, which the log never adopted",
                    row.rulebook, row.version
                ));
                continue;
            };
            let Some(assessment) = replay.assess(id, book, row.as_of) else { continue };
            let mut want = crate::rating::row(*id, assessment.clone(), row.log_size);
            if row.explanation.is_empty() {
                // Rated before explanations were stored: the rest must still agree.
                want.explanation.clear();
                want.answers.clear();
            } else if row.answers.is_empty()
                && crate::check::stored_assessment(&row).as_ref() == Some(&assessment)
            {
                // Rated before answers were kept apart: the explanation holds them, and says
                // what the log says.
                want.explanation.clone_from(&row.explanation);
                want.answers.clear();
            }
            if row != want {
                problems.push(format!(
                    "subject {id}: the published assessment on {} differs from the log's: {}",
                    row.as_of,
                    differences(&row, &want)
                ));
            }
        }
        // List entries: each one a list page shows is one of its subject's stored assessment,
        // which was compared above.
        let lists: BTreeSet<String> =
            books.iter().flat_map(|b| b.lists().map(|l| l.id.to_string())).collect();
        for list in lists {
            let mut after: Option<SubjectId> = None;
            loop {
                let page = self.store.list_entries(probity_store::ListQuery {
                    list: &list,
                    on: probity_core::Date::MIN,
                    after: after.as_ref(),
                    limit: PAGE,
                })?;
                let Some(last) = page.last().map(|(id, _)| *id) else { break };
                for (id, entry) in page {
                    if !stale.contains(&id) && !listed.contains(&(id, entry.clone())) {
                        problems.push(format!(
                            "subject {id}: listed on `{list}` from {} to {}, which no assessment \
                             of it says",
                            opt(entry.since),
                            opt(entry.until)
                        ));
                    }
                }
                after = Some(last);
            }
        }
        Ok(())
    }
}

/// What rating reads of each subject's records (the projections' columns, not the journal
/// entries) that differs from the replay, in words.
fn standing_problems(store: &dyn Store, replay: &Replay) -> Result<Vec<String>, RegistryError> {
    let mut problems = Vec::new();
    let ids: Vec<SubjectId> = replay.subjects().copied().collect();
    for chunk in ids.chunks(PAGE) {
        for (id, got) in chunk.iter().zip(store.standings_of(chunk)?) {
            let Some(got) = got else { continue };
            let want: Vec<RecordStanding> = replay
                .records_of(id)
                .into_iter()
                .map(|r| RecordStanding {
                    filed_index: r.filed,
                    kind: r.kind.clone(),
                    effective: r.effective,
                    status: match (r.withdrawn, r.corrected) {
                        (true, _) => RecordStatus::Withdrawn,
                        (false, true) => RecordStatus::Corrected,
                        (false, false) => RecordStatus::Filed,
                    },
                    repaired: r.repaired,
                })
                .collect();
            if got.records == want {
                continue;
            }
            let show = |rs: &[RecordStanding]| {
                rs.iter()
                    .map(|r| {
                        format!(
                            "entry {} {} from {} {}{}",
                            r.filed_index,
                            r.kind,
                            r.effective,
                            r.status.as_str(),
                            r.repaired.map(|d| format!(" repaired {d}")).unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            problems.push(format!(
                "subject {id}: rating reads its records as [{}] (the log gives [{}])",
                show(&got.records),
                show(&want)
            ));
        }
    }
    Ok(problems)
}

/// Where the exception list and the due-process cases differ from the replay, in words.
fn exception_and_case_problems(
    store: &dyn Store,
    replay: &Replay,
) -> Result<Vec<String>, RegistryError> {
    let mut problems = Vec::new();
    let stored: BTreeSet<String> = store.code_exceptions()?.into_iter().collect();
    let logged: BTreeSet<String> = replay.exceptions().map(str::to_owned).collect();
    for code in stored.difference(&logged) {
        problems.push(format!("code {code}: on the exception list, but no event admits it"));
    }
    for code in logged.difference(&stored) {
        problems.push(format!(
            "code {code}: admitted in the journal, but missing from the exception list"
        ));
    }
    let mut stored = Vec::new();
    let mut after = None;
    loop {
        let page = store.cases(false, after, PAGE)?;
        let Some(last) = page.last().map(|c| c.opened) else { break };
        stored.extend(page);
        after = Some(last);
    }
    let mut logged = replay.cases().iter().peekable();
    for got in &stored {
        while logged.next_if(|w| w.opened < got.opened).is_some_and(|w| {
            problems.push(format!(
                "record {}: its {} opened at entry {} is missing from the cases",
                w.record,
                w.kind.as_str(),
                w.opened
            ));
            true
        }) {}
        match logged.next_if(|w| w.opened == got.opened) {
            Some(w) if w.record == got.record && w.kind == got.kind && w.closed == got.closed => {}
            Some(w) => problems.push(format!(
                "record {}: the case opened at entry {} is published as {} of {} closed at {} \
                     (the log gives {} of {} closed at {})",
                w.record,
                w.opened,
                got.kind.as_str(),
                got.record,
                got.closed.map_or("none".into(), |c| c.to_string()),
                w.kind.as_str(),
                w.record,
                w.closed.map_or("none".into(), |c| c.to_string()),
            )),
            None => problems.push(format!(
                "record {}: a {} case opened at entry {} is published, but no step opens it",
                got.record,
                got.kind.as_str(),
                got.opened
            )),
        }
    }
    for w in logged {
        problems.push(format!(
            "record {}: its {} opened at entry {} is missing from the cases",
            w.record,
            w.kind.as_str(),
            w.opened
        ));
    }
    Ok(problems)
}

/// Where the stored inspection plans and the subjects their draws selected differ from the
/// replay (whose draws were recomputed as it went), in words.
fn inspection_problems(store: &dyn Store, replay: &Replay) -> Result<Vec<String>, RegistryError> {
    let mut problems = Vec::new();
    let stored = store.plans()?;
    let logged: Vec<_> = replay.plans().collect();
    for got in &stored {
        match logged.iter().find(|w| w.plan.key() == got.key) {
            None => problems.push(format!(
                "inspection plan {}: in the registry's tables, but no event files it",
                got.key
            )),
            Some(w) if w.index != got.planned || w.draw.as_ref().map(|d| d.0) != got.drawn => {
                problems.push(format!(
                    "inspection plan {}: stored as planned at entry {} and drawn at {:?} (the log \
                     gives {} and {:?})",
                    got.key,
                    got.planned,
                    got.drawn,
                    w.index,
                    w.draw.as_ref().map(|d| d.0)
                ));
            }
            Some(_) => {}
        }
    }
    for w in &logged {
        let key = w.plan.key();
        if !stored.iter().any(|g| g.key == key) {
            problems.push(format!("inspection plan {key}: filed in the journal, but not stored"));
        }
        let Some((_, draw)) = &w.draw else { continue };
        let logged: BTreeSet<(SubjectId, String, u32)> =
            draw.selected.iter().map(|t| (t.subject, t.class.clone(), t.team)).collect();
        let stored: BTreeSet<(SubjectId, String, u32)> =
            store.plan_targets(w.index)?.into_iter().collect();
        for t in logged.difference(&stored) {
            problems.push(format!(
                "inspection plan {key}: the draw selected {} (class {}, team {}), but the \
                 registry's tables do not show it",
                t.0, t.1, t.2
            ));
        }
        for t in stored.difference(&logged) {
            problems.push(format!(
                "inspection plan {key}: the registry's tables show {} (class {}, team {}) as \
                 drawn, but the draw did not select it so",
                t.0, t.1, t.2
            ));
        }
    }
    Ok(problems)
}

fn opt(d: Option<probity_core::Date>) -> String {
    d.map_or_else(|| "none".to_owned(), |d| d.to_string())
}

/// The fields in which a stored assessment differs from the recomputed one, in words.
fn differences(got: &probity_store::AssessmentRow, want: &probity_store::AssessmentRow) -> String {
    let mut out = Vec::new();
    let mut field = |name: &str, published: String, logged: String| {
        if published != logged {
            out.push(format!("{name} {published} (the log gives {logged})"));
        }
    };
    let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
    field("grade", or_none(&got.grade), or_none(&want.grade));
    field(
        "score",
        got.score.map_or("none".into(), |s| s.to_string()),
        want.score.map_or("none".into(), |s| s.to_string()),
    );
    field("measures", got.decisions.clone(), want.decisions.clone());
    let lists = |r: &probity_store::AssessmentRow| {
        r.lists
            .iter()
            .map(|l| format!("{} {}..{}", l.list, opt(l.since), opt(l.until)))
            .collect::<Vec<_>>()
            .join("; ")
    };
    field("lists", lists(got), lists(want));
    field("next change", opt(got.next_change), opt(want.next_change));
    if out.is_empty() && got.answers != want.answers {
        out.push("the reasons of an answer".to_owned());
    }
    if out.is_empty() {
        out.push("the explanation".to_owned());
    }
    out.join(", ")
}
