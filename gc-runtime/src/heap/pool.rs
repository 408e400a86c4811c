//! Where pages come from and go back to: new memory, empty pages, and the scavenger.
//!
//! # Life of a page
//!
//! A page is made once, in a run of pages mapped from the system (`crate::raw`), and never freed:
//! its descriptor and its address stay valid for the life of the process. When a sweep leaves
//! it with no live object, it comes here, stamped with the time ([`PagePool::put_all`]); allocation
//! takes the most recently emptied page first ([`PagePool::take`]): its memory is the most
//! likely to be resident and in cache.
//!
//! # The scavenger
//!
//! A page that stays empty is memory the program does not use. [`PagePool::scavenge`], run by
//! the collector thread while it waits for work, gives the memory of pages that have been
//! empty for at least the configured delay back to the OS, oldest first, as long as the heap
//! holds more than it is expected to need: the pacer's goal plus 10 %, as Go's scavenger
//! retains. Released pages are handed out only when no resident one is left; their memory
//! comes back, zeroed, when they are next written. The delay keeps a program whose heap
//! shrinks and grows with every cycle from paying page faults each time: only memory unused
//! for that long goes back.
//!
//! # Giving back a run's tables
//!
//! A page's memory is not all the heap keeps for it: its marks and claims (in its run's first page,
//! see `mark_bits.rs`) and its bitmaps (in the second, see `page.rs`) take about 3 KiB per 64 KiB
//! page, and a page descriptor another 72 bytes. A heap that grew to a gigabyte and shrank
//! again would keep some 50 MB of them. So each run counts its pages that hold memory (made, and
//! not released), and when the scavenger releases the last of them, it releases the run's tables
//! too — under the pool's lock, so that no page of the run can be taken out meanwhile (the lock is
//! taken for each run on its own, and the count read again under it: an allocator waits for one
//! run's release at most). No thread reads or writes a run's tables while every page of the run is
//! in the pool: its pages hold no object for a marker or a sweeper to find, and only an owner
//! writes a page's bitmaps. The tables come back as zeroes when a page of the run is next
//! formatted, which is the state they started in: marks clear, claims stale, bitmaps rewritten by
//! the format. The descriptors stay (72 bytes each, and a page's address must keep
//! leading to one).

use std::time::{Duration, Instant};

use super::page::{Page, PAGE_BYTES};
use crate::{
    primitive::sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Mutex,
    },
    raw::{PageRun, FIRST_OBJECT_PAGE, RUN_PAGES},
};

/// Every page, and the empty ones by state.
#[derive(Default)]
pub(crate) struct PagePool {
    lists: Mutex<Lists>,
    /// Pages whose memory is released now (in `lists.released`, or being taken out of it).
    released_pages: AtomicUsize,
    /// Set when the platform cannot release memory: the scavenger stops trying.
    cannot_release: AtomicBool,
}

#[derive(Default)]
struct Lists {
    /// Every page ever made, whoever owns it now.
    all: Vec<&'static Page>,
    /// Empty pages with their memory, each with the time it was emptied.
    resident: Vec<(&'static Page, Instant)>,
    /// Empty pages whose memory went back to the OS.
    released: Vec<&'static Page>,
    /// The run new pages are cut from, and how many of its pages are used.
    run: Option<(&'static PageRun, usize)>,
}

/// What one call of [`PagePool::scavenge`] did, and when it wants to run next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scavenged {
    /// Pages whose memory went back to the OS in this call.
    pub(crate) released_pages: usize,
    /// Runs whose tables went back with their last page in this call.
    pub(crate) released_tables: usize,
    /// How long until the oldest resident empty page that has not been empty for the delay yet
    /// has been (`None`: no empty page is waiting to age; the aged ones left are retained).
    pub(crate) next_due: Option<Duration>,
}

impl PagePool {
    /// An empty page for the caller to own and format: a resident one if any, else a released
    /// one, else a new one. New pages are considered swept for `epoch`; pages from the pool
    /// keep the swept epoch they were filed with, which the caller sets when it reformats.
    pub(crate) fn take(&self, class: usize, epoch: u64) -> (&'static Page, Taken) {
        let mut lists = self.lists.lock();
        if let Some((page, _)) = lists.resident.pop() {
            return (page, Taken::Reused);
        }
        if let Some(page) = lists.released.pop() {
            self.released_pages.fetch_sub(1, Ordering::Relaxed);
            page.run().count_resident_page();
            return (page, Taken::Reused);
        }
        let (run, used) = match lists.run {
            Some((run, used)) if used < RUN_PAGES => (run, used),
            // The first pages of a run hold its tables (see `mark_bits.rs`).
            _ => (PageRun::map(PAGE_BYTES), FIRST_OBJECT_PAGE),
        };
        lists.run = Some((run, used + 1));
        run.count_resident_page();
        // Under the lock, as every change to the run's count: the new page's format writes the
        // run's tables, which the scavenger may be giving back if every other page of the
        // run is released.
        let page = Page::new_leaked(run, used, class, epoch);
        lists.all.push(page);
        (page, Taken::New)
    }

    /// Give back empty pages the caller owns, in one hold of the lock (none if there are none).
    pub(crate) fn put_all(&self, pages: impl Iterator<Item = &'static Page>) {
        let mut pages = pages.peekable();
        if pages.peek().is_some() {
            let now = Instant::now();
            self.lists.lock().resident.extend(pages.map(|page| (page, now)));
        }
    }

    /// Empty pages with their memory.
    #[cfg(test)]
    pub(crate) fn resident_empty_pages(&self) -> usize {
        self.lists.lock().resident.len()
    }

    /// Every page ever made (for scans with the world stopped).
    pub(crate) fn all(&self) -> Vec<&'static Page> {
        self.lists.lock().all.clone()
    }

    /// Bytes of page memory the heap holds: every page made, less the released ones.
    pub(crate) fn resident_bytes(&self) -> usize {
        let all = self.lists.lock().all.len();
        (all - self.released_pages.load(Ordering::Relaxed)) * PAGE_BYTES
    }

    /// Bytes of page memory given back to the OS (the address space is kept).
    pub(crate) fn released_bytes(&self) -> usize {
        self.released_pages.load(Ordering::Relaxed) * PAGE_BYTES
    }

    /// Release the memory of pages empty since at least `delay` before `now`, oldest first,
    /// until the heap holds no more than `retain` bytes (`other_bytes`, the memory outside
    /// pages, counts towards it). See "The scavenger".
    pub(crate) fn scavenge(&self, now: Instant, delay: Duration, retain: usize, other_bytes: usize) -> Scavenged {
        if self.cannot_release.load(Ordering::Relaxed) {
            return Scavenged::default();
        }
        let aged = |since: Instant| now.saturating_duration_since(since) >= delay;
        let mut taken = Vec::new();
        {
            let mut lists = self.lists.lock();
            let resident = lists.all.len() - self.released_pages.load(Ordering::Relaxed);
            let held = resident * PAGE_BYTES + other_bytes;
            let mut excess = held.saturating_sub(retain).div_ceil(PAGE_BYTES);
            // Oldest first: pages are pushed as they empty, so the front is the oldest.
            lists.resident.retain(|&(page, since)| {
                let release = excess > 0 && aged(since);
                if release {
                    excess -= 1;
                    taken.push((page, since));
                }
                !release
            });
            // Counted as released from here on, so that `resident_bytes` never counts a page
            // twice while its memory goes back outside the lock.
            self.released_pages.fetch_add(taken.len(), Ordering::Relaxed);
        }
        let mut released = Vec::with_capacity(taken.len());
        let mut kept = Vec::new();
        for (page, since) in taken {
            // SAFETY: the page was in the pool, so it is empty, and taking it out made this
            // thread its owner.
            if unsafe { page.release_memory() } {
                released.push(page);
            } else {
                self.cannot_release.store(true, Ordering::Relaxed);
                kept.push((page, since));
            }
        }
        let mut lists = self.lists.lock();
        self.released_pages.fetch_sub(kept.len(), Ordering::Relaxed);
        let released_pages = released.len();
        // Runs whose last page holding memory went back: their tables go too, below.
        let emptied: Vec<&'static PageRun> =
            released.iter().map(|page| page.run()).filter(|run| run.count_released_page() == 0).collect();
        lists.released.extend(released);
        // Pages that could not be released go back to the front: still the oldest.
        lists.resident.splice(0..0, kept);
        // The next page to come due is the oldest that has not aged yet. A page that has aged
        // and is still here is one the heap retains: it goes only when the retained size
        // shrinks (after a cycle, when the collector calls again) or more pages empty (each
        // comes due by itself), so it schedules nothing — counting it would wake the collector
        // every `MIN_SCAVENGE_WAIT` for as long as the program runs, to find it retained again.
        // `checked_add`: a delay of centuries (`GC_SCAVENGE_AFTER_MS` accepts any number) has no
        // due time at all, rather than an overflow on the collector thread.
        let next_due = lists
            .resident
            .iter()
            .map(|&(_, since)| since)
            .filter(|&since| !aged(since))
            .min()
            .and_then(|oldest| oldest.checked_add(delay))
            .map(|due| due.saturating_duration_since(now));
        drop(lists);
        // One run at a time, each under the lock (so that no page of the run is taken or made
        // while its tables go back), and only if no page of it was taken since: an allocator
        // that needs a page waits for one run's `madvise`, not for all of them.
        let mut released_tables = 0;
        for run in emptied {
            let _lists = self.lists.lock();
            if run.resident_pages() == 0 {
                // SAFETY: every page of the run made so far is released and in the pool, and
                // the lock is held: no page of the run is taken or made until the tables are
                // back ("Giving back a run's tables").
                released_tables += usize::from(unsafe { run.release_tables() });
            }
        }
        Scavenged { released_pages, released_tables, next_due }
    }
}

/// Where [`PagePool::take`] found its page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Taken {
    /// A page that was empty in the pool: the caller reformats it.
    Reused,
    /// A page just made, already formatted for the class.
    New,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_reused_newest_first_then_released_ones() {
        let pool = PagePool::default();
        let (a, how) = pool.take(0, 1);
        assert_eq!(how, Taken::New);
        let (b, _) = pool.take(0, 1);
        assert_eq!(pool.resident_bytes(), 2 * PAGE_BYTES);
        pool.put_all(std::iter::once(a));
        pool.put_all(std::iter::once(b));
        let (again, how) = pool.take(0, 1);
        assert_eq!(how, Taken::Reused);
        assert!(std::ptr::eq(again, b), "the most recently emptied page comes back first");
        pool.put_all(std::iter::once(again));
        assert_eq!(pool.all().len(), 2);
    }

    #[test]
    fn a_delay_too_long_to_add_to_a_time_releases_nothing_and_never_comes_due() {
        let pool = PagePool::default();
        let (page, _) = pool.take(0, 1);
        pool.put_all(std::iter::once(page));
        let r = pool.scavenge(Instant::now(), Duration::MAX, 0, 0);
        assert_eq!(r, Scavenged { released_pages: 0, released_tables: 0, next_due: None });
        assert_eq!(pool.resident_bytes(), PAGE_BYTES);
    }

    #[test]
    fn aged_pages_the_heap_retains_schedule_no_next_scavenge() {
        let pool = PagePool::default();
        let pages: Vec<_> = (0..3).map(|_| pool.take(3, 1).0).collect();
        let start = Instant::now();
        for page in &pages[..2] {
            pool.put_all(std::iter::once(*page));
        }
        let delay = Duration::from_secs(1);
        // Two aged pages, both retained: nothing to release, and nothing comes due.
        let r = pool.scavenge(start + 2 * delay, delay, 4 * PAGE_BYTES, 0);
        assert_eq!(r, Scavenged { released_pages: 0, released_tables: 0, next_due: None });
        assert_eq!(pool.resident_bytes(), 3 * PAGE_BYTES, "every page made keeps its memory");
        // A page emptied half a delay before the call comes due by itself, half a delay
        // later; the retained ones still schedule nothing.
        let now = start + 2 * delay;
        pool.lists.lock().resident.push((pages[2], now - delay / 2));
        let r = pool.scavenge(now, delay, 4 * PAGE_BYTES, 0);
        assert_eq!(r, Scavenged { released_pages: 0, released_tables: 0, next_due: Some(delay / 2) });
    }

    #[test]
    fn the_scavenger_releases_aged_pages_down_to_what_it_retains() {
        let pool = PagePool::default();
        let pages: Vec<_> = (0..4).map(|_| pool.take(3, 1).0).collect();
        for (i, page) in pages.iter().enumerate() {
            // Write to the page so it is resident, to see that its memory comes back zeroed.
            // SAFETY: the test owns the empty page; nothing else reads or writes its memory.
            unsafe { page.base().add(100).write(i as u8 + 1) };
            pool.put_all(std::iter::once(*page));
        }
        let now = Instant::now();
        let delay = Duration::from_secs(1);
        let early = pool.scavenge(now, delay, 0, 0);
        assert_eq!(early.released_pages, 0, "nothing has been empty for the delay yet");
        assert!(early.next_due.is_some_and(|d| d <= delay));

        let later = now + delay;
        // Retain two pages' worth: two of the four go back.
        let r = pool.scavenge(later, delay, 2 * PAGE_BYTES, 0);
        if cfg!(all(unix, not(miri))) {
            assert_eq!(r.released_pages, 2);
            assert_eq!(pool.released_bytes(), 2 * PAGE_BYTES);
            assert_eq!(pool.resident_bytes(), 2 * PAGE_BYTES);
            // Memory outside pages counts towards what is retained: the rest goes too.
            let r = pool.scavenge(later, delay, 2 * PAGE_BYTES, 2 * PAGE_BYTES);
            assert_eq!((r.released_pages, r.next_due), (2, None));
            assert_eq!(pool.resident_bytes(), 0);
            // Released pages are handed out again, and their memory reads as zeroes.
            for _ in 0..4 {
                let (page, how) = pool.take(3, 1);
                assert_eq!(how, Taken::Reused);
                // SAFETY: the test owns the page; its memory is mapped (released memory reads
                // as zeroes).
                assert_eq!(unsafe { page.base().add(100).read() }, 0, "released memory comes back zeroed");
            }
            assert_eq!(pool.released_bytes(), 0);
            assert_eq!(pool.resident_bytes(), 4 * PAGE_BYTES);
        } else {
            assert_eq!(r.released_pages, 0, "this platform keeps the memory");
            assert_eq!(pool.resident_bytes(), 4 * PAGE_BYTES);
        }
    }

    #[test]
    fn a_run_s_tables_go_back_with_its_last_page_and_come_back_as_a_fresh_format() {
        let pool = PagePool::default();
        let class = 3;
        let pages: Vec<_> = (FIRST_OBJECT_PAGE..RUN_PAGES).map(|_| pool.take(class, 1).0).collect();
        let run = pages[0].run();
        assert!(pages.iter().all(|p| std::ptr::eq(p.run(), run)), "a fresh pool fills one run first");
        let last_word = crate::mark_bits::PAGE_WORDS - 1;
        // SAFETY: the test owns the pages.
        let nslots = unsafe { pages[0].slots() }.nslots;
        assert!(nslots <= last_word * 64, "class {class} leaves the last bitmap word to the format");
        for page in &pages {
            assert_eq!(page.bitmap_word(last_word).load(Ordering::Relaxed), !0, "bits past the last slot are set");
            assert!(page.marks().try_mark(0), "a mark, to see it go");
        }
        pool.put_all(pages.iter().copied());
        let now = Instant::now() + Duration::from_secs(1);
        let delay = Duration::from_secs(1);
        let still =
            |page: &Page| page.bitmap_word(last_word).load(Ordering::Relaxed) == !0 && page.marks().is_marked(0);

        // All pages but one go back: the run's tables stay, for the page that holds memory.
        let r = pool.scavenge(now, delay, PAGE_BYTES, 0);
        if !cfg!(all(unix, not(miri))) {
            assert_eq!(r.released_pages, 0, "this platform keeps the memory");
            return;
        }
        assert_eq!((r.released_pages, r.released_tables), (pages.len() - 1, 0));
        assert!(pages.iter().all(|p| still(p)), "the tables are kept while a page of the run holds memory");

        // The last one goes back, and the tables with it: they read as zeroes.
        let r = pool.scavenge(now, delay, 0, 0);
        assert_eq!((r.released_pages, r.released_tables), (1, 1));
        for page in &pages {
            assert_eq!(page.bitmap_word(last_word).load(Ordering::Relaxed), 0, "the bitmaps went back");
            assert!(!page.marks().is_marked(0), "the marks went back");
        }

        // A page taken out again is formatted afresh over the zeroes, and holds memory again:
        // the tables stay until it goes back too.
        let (page, how) = pool.take(class, 2);
        assert_eq!(how, Taken::Reused);
        // SAFETY: the test owns the page, which is empty.
        unsafe { page.reformat(class, 2) };
        assert_eq!(page.bitmap_word(last_word).load(Ordering::Relaxed), !0);
        // SAFETY: owned.
        assert_eq!(unsafe { (page.allocated(), page.free_slots()) }, (0, nslots));
        assert!(page.marks().try_mark(0) && page.marks().is_marked(0));
        pool.put_all(std::iter::once(page));
        let r = pool.scavenge(now + 2 * delay, delay, 0, 0);
        assert_eq!((r.released_pages, r.released_tables), (1, 1));
        assert!(!page.marks().is_marked(0), "the tables went back with the page");
    }
}
