"""Facts of every post in ../shared/corpus/mcgill, read from the posts by hand.

Names, rooms and instants only; titles and prose stay out. Paths are relative to the corpus's mcgill/ folder.

How the values were read (product spec rules):
- speakers: the `names` front matter, split on " and " and ", ", with "Prof." / "Dr."
  dropped and the spelling kept otherwise; `author` is ignored. "Rountable discussion"
  (sic) means no speaker.
- affiliation: the `venue` front matter, stripped; None when empty.
- semester: the non-"Reading-Group" entry of `categories`, lower-cased.
- starts_at: the Logistics "Date:" / "Time:" lines, year from the file name, local time
  in America/Montreal. DST: 2024 ends 2024-11-03, 2025 starts 2025-03-09, so
  2024-11-01 is still -04:00 and 2025-03-14 is already -04:00.
- room / online_platform: from the Logistics "Location:" line ("F01 or via Zoom" ->
  room "F01", platform "Zoom"; "Zoom (See email)" -> room None, platform "Zoom").

Every weekday named in the prose was checked against the calendar; all agree except
the _history Catarina Belem version (see there).
"""

EXPECTED: dict[str, dict] = {
    # ------------------------------------------------------------------ summer-2024
    "_posts/reading-group/summer-2024/2024-04-18-lili-mou.md": {
        # names is "Prof. Lili Mou" -> "Prof." dropped. Thursday.
        "speakers": ["Lili Mou"],
        "affiliation": "University of Alberta",
        "starts_at": "2024-04-18T11:00:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-04-22-piotr-nawrot.md": {
        "speakers": ["Piotr Nawrot"],
        "affiliation": "University of Edinburgh",
        "starts_at": "2024-04-22T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-05-06-ori-ernst-xing-han-lu.md": {
        # "Lù" is U+00F9 (NFC). `author` wrongly says "Ehud Reiter": ignored.
        # An earlier version lives in _history under the misspelt slug "xin-hang-lu".
        "speakers": ["Ori Ernst", "Xing Han Lù"],
        "affiliation": "McGill NLP",
        "starts_at": "2024-05-06T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-05-14-ehud-reiter.md": {
        # A Tuesday at 10:00 (schedule table bolds both as exceptions).
        "speakers": ["Ehud Reiter"],
        "affiliation": "University of Aberdeen",
        "starts_at": "2024-05-14T10:00:00-04:00",
        "room": "H04",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-05-27-tianbao-xie.md": {
        # Rescheduled from 2024-05-20 (see HISTORY); second speaker added since.
        "speakers": ["Tianbao Xie", "Danyang Zhang"],
        "affiliation": "University of Hong Kong and Shanghai Jiao Tong University",
        "starts_at": "2024-05-27T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-06-03-vaibhav-adlakha.md": {
        "speakers": ["Vaibhav Adlakha"],
        "affiliation": "McGill University",
        "starts_at": "2024-06-03T11:00:00-04:00",
        "room": "J09",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-06-10-matthias-lindemann-fanny-jourdan.md": {
        # names spells "Lindermann" (file name and schedule say "Lindemann"): kept as
        # names spells it. Prose says "11AM EST" (sic; it is EDT) and "Monday, June
        # 10th" (correct); second talk at 12:30 but the event starts at 11:00.
        # Venue contains "Exupéry" (U+00E9).
        "speakers": ["Matthias Lindermann", "Fanny Jourdan"],
        "affiliation": "University of Edinburgh and Technological Research Institute (IRT) Saint Exupéry",
        "starts_at": "2024-06-10T11:00:00-04:00",
        "room": "Auditorium 1",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-06-13-marius-mosbach.md": {
        # Thursday, 2:00PM.
        "speakers": ["Marius Mosbach"],
        "affiliation": "McGill University",
        "starts_at": "2024-06-13T14:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-06-17-yu-bai.md": {
        "speakers": ["Yu Bai"],
        "affiliation": "McGill University and Beijing Institute of Technology",
        "starts_at": "2024-06-17T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-06-26-nathan-schneider.md": {
        # names is "Prof. Nathan Schneider". Wednesday.
        "speakers": ["Nathan Schneider"],
        "affiliation": "Georgetown University",
        "starts_at": "2024-06-26T11:00:00-04:00",
        "room": "Auditorium 1",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-06-28-vagrant-gautam.md": {
        # Time written "10:30 AM" (with a space). Friday.
        "speakers": ["Vagrant Gautam"],
        "affiliation": "Saarland University",
        "starts_at": "2024-06-28T10:30:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-07-02-jason-weston.md": {
        # Tuesday; time written "11:00 AM".
        "speakers": ["Jason Weston"],
        "affiliation": "Meta AI",
        "starts_at": "2024-07-02T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-07-15-wenyu-du.md": {
        "speakers": ["Wenyu Du"],
        "affiliation": "University of Hong Kong",
        "starts_at": "2024-07-15T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-07-22-erfan-shayegani.md": {
        # title is unquoted in the front matter.
        "speakers": ["Erfan Shayegani"],
        "affiliation": "UC Riverside",
        "starts_at": "2024-07-22T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-07-29-ivan-vulic.md": {
        # names is "Prof. Ivan Vulić" ("ć" is U+0107).
        "speakers": ["Ivan Vulić"],
        "affiliation": "University of Cambridge and PolyAI",
        "starts_at": "2024-07-29T11:00:00-04:00",
        "room": "Auditorium 1",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_posts/reading-group/summer-2024/2024-08-26-nelson-costa.md": {
        # names has the middle name; file name does not.
        "speakers": ["Nelson Filipe Costa"],
        "affiliation": "Concordia University",
        "starts_at": "2024-08-26T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    # -------------------------------------------------------------------- fall-2024
    "_posts/reading-group/fall-2024/2024-09-13-priyank-jaini.md": {
        "speakers": ["Priyank Jaini"],
        "affiliation": "Google DeepMind (Toronto)",
        "starts_at": "2024-09-13T11:30:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-09-20-intern-presentation.md": {
        # names comma-separated.
        "speakers": ["Fabian David Schmidt", "Ada Tur"],
        "affiliation": "McGill + Mila",
        "starts_at": "2024-09-20T11:30:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-09-27-intern-presentation-2.md": {
        # names has two leading spaces and is comma-separated.
        # Earlier version in _history was filed as 2024-09-20 (see HISTORY).
        "speakers": ["Steven Koniaev", "Nathan Zeweniuk"],
        "affiliation": "McGill + Mila",
        "starts_at": "2024-09-27T11:30:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-10-11-tu-vu.md": {
        # Post (Logistics and prose: "11:30 AM on Friday October 11th") says 11:30;
        # the schedule tables say 11:00 AM. The post wins. Speaker remote, projected
        # in Auditorium 2.
        "speakers": ["Tu Vu"],
        "affiliation": "Virginia Tech",
        "starts_at": "2024-10-11T11:30:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-10-18-eva-portelance.md": {
        "speakers": ["Eva Portelance"],
        "affiliation": "HEC Montreal",
        "starts_at": "2024-10-18T11:30:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-11-1-bang-liu.md": {
        # File name has a one-digit day ("11-1"). 11:45 (not the usual 11:30).
        # 2024-11-01 is still EDT (DST ended 2024-11-03) -> -04:00 although it is
        # November. Prose: "Friday November 1st" (correct). Room "A14" (prose "room A14").
        "speakers": ["Bang Liu"],
        "affiliation": "University of Montreal",
        "starts_at": "2024-11-01T11:45:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-11-07-boyuan-zheng.md": {
        # FILE NAME vs BODY: file name says 2024-11-07 (a Thursday); Logistics says
        # "November 8th" and prose "Friday November 8th" (2024-11-08 is a Friday);
        # the schedule tables also say November 8th. Body wins -> 2024-11-08, EST.
        "speakers": ["Boyuan Zheng"],
        "affiliation": "Ohio State University",
        "starts_at": "2024-11-08T11:30:00-05:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-11-22-william-held.md": {
        # Online only: Location is just "Zoom (See email)".
        "speakers": ["William Held"],
        "affiliation": "Georgia Tech",
        "starts_at": "2024-11-22T11:30:00-05:00",
        "room": None,
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_posts/reading-group/fall-2024/2024-11-29-luke-guerdan.md": {
        # Online only. title is unquoted and contains double quotes.
        "speakers": ["Luke Guerdan"],
        "affiliation": "Carnegie Mellon University",
        "starts_at": "2024-11-29T11:30:00-05:00",
        "room": None,
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    # ------------------------------------------------------------------ winter-2025
    "_posts/reading-group/winter-2025/2025-01-31-nlp-roundtable.md": {
        # Group session: names "Rountable discussion" (sic) -> no speaker. 3PM.
        # Location "F01 or Zoom" (no "via").
        "speakers": [],
        "affiliation": "Mila",
        "starts_at": "2025-01-31T15:00:00-05:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-02-21-nlp-roundtable.md": {
        # Group session, no speaker.
        "speakers": [],
        "affiliation": "Mila",
        "starts_at": "2025-02-21T13:00:00-05:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-02-28-amal-zouaq.md": {
        # Venue has "é" (U+00E9).
        "speakers": ["Amal Zouaq"],
        "affiliation": "Polytechnique Montréal",
        "starts_at": "2025-02-28T13:00:00-05:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-03-14-muhammad-umair.md": {
        # After the 2025-03-09 DST switch -> -04:00 in "winter".
        "speakers": ["Muhammad Umair"],
        "affiliation": "Tufts University",
        "starts_at": "2025-03-14T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-03-21-nlp-roundtable.md": {
        # A roundtable, but names is a real person (the discussion leader), unlike
        # the two other roundtables -> one speaker.
        "speakers": ["Sara Vera Marjanovic"],
        "affiliation": "Mila",
        "starts_at": "2025-03-21T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-04-04-yifan-wang.md": {
        "speakers": ["Yifan Wang"],
        "affiliation": "Saarland University",
        "starts_at": "2025-04-04T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-04-11-jean-philippe-corbeil.md": {
        "speakers": ["Jean-Philippe Corbeil"],
        "affiliation": "Microsoft",
        "starts_at": "2025-04-11T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-04-25-catarina-belem.md": {
        # Corrected from April 24th (see HISTORY); 2025-04-25 is the Friday.
        "speakers": ["Catarina Belem"],
        "affiliation": "UC Irvine",
        "starts_at": "2025-04-25T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-05-09-reto-gubelman-stevan-harnad.md": {
        # `venue:` is empty -> None. names spells "Gubelmann" (file name "gubelman").
        "speakers": ["Reto Gubelmann", "Stevan Harnad"],
        "affiliation": None,
        "starts_at": "2025-05-09T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-05-23-angelie-kraft.md": {
        "speakers": ["Angelie Kraft"],
        "affiliation": "University of Hamburg",
        "starts_at": "2025-05-23T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
    "_posts/reading-group/winter-2025/2025-05-30-ayla-rigouts-terryn.md": {
        # Date written "May 30rd" (odd ordinal) in Logistics and prose = 30th, a
        # Friday. `venue` has a trailing space (stripped). Still "winter-2025".
        "speakers": ["Ayla Rigouts Terryn"],
        "affiliation": "Université de Montréal",
        "starts_at": "2025-05-30T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
}

# Files under _posts/ that are not talks.
SKIPPED: set[str] = {
    # Semester schedule archives (category "Archive", a table, no talk).
    "_posts/reading-group/archive/2024-05-01-summer-2024.md",
    "_posts/reading-group/archive/2024-09-01-fall-2024.md",
    "_posts/reading-group/archive/2025-01-01-winter-2025.md",
    # An image (PNG, 198x180) sitting next to the posts.
    "_posts/reading-group/winter-2025/stevan-harnad.png",
}

HISTORY: dict[str, dict] = {
    "_history/_posts/reading-group/summer-2024/2024-05-06-ori-ernst-xin-hang-lu@f7fe31a.md": {
        # Byte-identical to the current post; only the file name (slug misspelt
        # "xin-hang-lu") differs.
        "speakers": ["Ori Ernst", "Xing Han Lù"],
        "affiliation": "McGill NLP",
        "starts_at": "2024-05-06T11:00:00-04:00",
        "room": "F01",
        "online_platform": "Zoom",
        "semester": "summer-2024",
    },
    "_history/_posts/reading-group/summer-2024/2024-05-20-tianbao-xie@b688258.md": {
        # No Logistics section at all ("More information TBA"): date 2024-05-20 from
        # the file name only, time unknown -> starts_at None; no Location -> no room,
        # no platform. One speaker and a shorter venue than the current version.
        "speakers": ["Tianbao Xie"],
        "affiliation": "University of Hong Kong",
        "starts_at": None,
        "room": None,
        "online_platform": None,
        "semester": "summer-2024",
    },
    "_history/_posts/reading-group/fall-2024/2024-09-20-intern-presentation-2@d98f73b.md": {
        # FILE NAME vs BODY: file name says 2024-09-20, Logistics says "September
        # 27th" -> body wins: 2024-09-27 (a Friday). Otherwise byte-identical to the
        # current 2024-09-27-intern-presentation-2.md.
        "speakers": ["Steven Koniaev", "Nathan Zeweniuk"],
        "affiliation": "McGill + Mila",
        "starts_at": "2024-09-27T11:30:00-04:00",
        "room": "Auditorium 2",
        "online_platform": "Zoom",
        "semester": "fall-2024",
    },
    "_history/_posts/reading-group/winter-2025/2025-04-24-catarina-belem@d945af0.md": {
        # File name, Logistics ("April 24th") and prose all say the 24th, so the
        # 24th is recorded; but prose calls it "Friday April 24th" and 2025-04-24 is
        # a Thursday. The later version fixed the day to the 25th (the Friday).
        "speakers": ["Catarina Belem"],
        "affiliation": "UC Irvine",
        "starts_at": "2025-04-24T13:00:00-04:00",
        "room": "A14",
        "online_platform": "Zoom",
        "semester": "winter-2025",
    },
}

# For each history post: which current post it is an earlier version of (same talk, renamed or changed)
RENAMED_TO: dict[str, str] = {
    # slug spelling fixed (xin-hang-lu -> xing-han-lu), content unchanged
    "_history/_posts/reading-group/summer-2024/2024-05-06-ori-ernst-xin-hang-lu@f7fe31a.md": "_posts/reading-group/summer-2024/2024-05-06-ori-ernst-xing-han-lu.md",
    # moved one week (05-20 -> 05-27), second speaker and details added
    "_history/_posts/reading-group/summer-2024/2024-05-20-tianbao-xie@b688258.md": "_posts/reading-group/summer-2024/2024-05-27-tianbao-xie.md",
    # file name date fixed (09-20 -> 09-27) to match the body, content unchanged
    "_history/_posts/reading-group/fall-2024/2024-09-20-intern-presentation-2@d98f73b.md": "_posts/reading-group/fall-2024/2024-09-27-intern-presentation-2.md",
    # day fixed (24th -> 25th) in file name, prose and Logistics
    "_history/_posts/reading-group/winter-2025/2025-04-24-catarina-belem@d945af0.md": "_posts/reading-group/winter-2025/2025-04-25-catarina-belem.md",
}

# Schedule tables: the 3 archive posts and the 8 versions of the reading-group page.
# "semester": the semester the table describes (None: the page has no schedule table).
# "linked": number of rows whose last cell links a post with {% link _posts/... %}.
# "unlinked": every other row, in table order, as {"kind", "date"}; date is the row's
# (first) date, None when the row names no full date.
SCHEDULE_EXPECTED: dict[str, dict] = {
    "_posts/reading-group/archive/2024-05-01-summer-2024.md": {
        # 16 talk rows; the Vagrant Gautam row has no trailing pipe.
        "semester": "summer-2024",
        "linked": 16,
        "unlinked": [
            # "Talks for the 5th, 12th and 19th will be rescheduled due to ACL 2024 |"
            # (a single cell; August implied by its neighbours but no month is
            # written, so no date).
            {"kind": "conference", "date": None},
        ],
    },
    "_posts/reading-group/archive/2024-09-01-fall-2024.md": {
        # Boyuan Zheng row: "November 8th" linking the 2024-11-07 file.
        # Tu Vu row says 11:00 AM (the post says 11:30AM).
        "semester": "fall-2024",
        "linked": 9,
        "unlinked": [
            # "October 1st to 3rd | Mila NLP Workshop" (register link, no post)
            {"kind": "conference", "date": "2024-10-01"},
            # "November 12th to 16th | **EMNLP 2024**"
            {"kind": "conference", "date": "2024-11-12"},
            # "December 6th @ 11:30 AM | Poster presentations for Comp 767" (no post)
            {"kind": "note", "date": "2024-12-06"},
        ],
    },
    "_posts/reading-group/archive/2025-01-01-winter-2025.md": {
        # Every row links a post (three group-discussion rows included).
        "semester": "winter-2025",
        "linked": 11,
        "unlinked": [],
    },
    "_pages/reading-group@b59f792.md": {
        # Earliest page: a short history paragraph only, no schedule table.
        "semester": None,
        "linked": 0,
        "unlinked": [],
    },
    "_pages/reading-group@9778647.md": {
        # First Summer 2024 table: two rows.
        "semester": "summer-2024",
        "linked": 2,
        "unlinked": [],
    },
    "_pages/reading-group@d9130f2.md": {
        # Five rows; the Ori Ernst row links the old slug
        # 2024-05-06-ori-ernst-xin-hang-lu.md (the _history file) -- still a link.
        "semester": "summer-2024",
        "linked": 5,
        "unlinked": [],
    },
    "_pages/reading-group@5ac96fe.md": {
        # Same table as the summer archive post, except the Ori Ernst row links the
        # old slug ...xin-hang-lu.md (counted as linked); Vagrant row lacks the
        # trailing pipe.
        "semester": "summer-2024",
        "linked": 16,
        "unlinked": [
            # "Talks for the 5th, 12th and 19th will be rescheduled due to ACL 2024 |"
            {"kind": "conference", "date": None},
        ],
    },
    "_pages/reading-group@619caaf.md": {
        # Early Fall 2024 table: no row links a post. Speaker rows have "*TBA*" in
        # topic and information -> "tbd" (speaker known, details/post not yet).
        # Bang Liu still at 11:30 here; Amal Zouaq pencilled in for December 6th
        # (she spoke on 2025-02-28 in the end).
        "semester": "fall-2024",
        "linked": 0,
        "unlinked": [
            {"kind": "tbd", "date": "2024-09-13"},  # Priyank Jaini, *TBA*
            {"kind": "tbd", "date": "2024-09-20"},  # "Intern Presentations", *TBA*
            {"kind": "conference", "date": "2024-10-01"},  # Mila NLP Workshop, Oct 1-3
            {"kind": "tbd", "date": "2024-10-11"},  # Tu Vu, *TBA*
            {"kind": "tbd", "date": "2024-10-18"},  # Eva Portelance, *TBA*
            {"kind": "tbd", "date": "2024-11-01"},  # Bang Liu, *TBA*
            {"kind": "conference", "date": "2024-11-12"},  # EMNLP 2024, Nov 12-16
            {"kind": "tbd", "date": "2024-11-29"},  # Luke Guerdan, *TBA*
            {"kind": "tbd", "date": "2024-12-06"},  # Amal Zouaq, *TBA*
        ],
    },
    "_pages/reading-group@a4cf9e1.md": {
        # Final Fall 2024 table; same rows as the fall archive post, except the
        # December 6th row reads "December 6th  11:00 AM -- 1:00 PM" (no "@") and
        # links a course syllabus, not a post.
        "semester": "fall-2024",
        "linked": 9,
        "unlinked": [
            {"kind": "conference", "date": "2024-10-01"},  # Mila NLP Workshop
            {"kind": "conference", "date": "2024-11-12"},  # EMNLP 2024
            {"kind": "note", "date": "2024-12-06"},  # poster presentations (course)
        ],
    },
    "_pages/reading-group@f2ca079.md": {
        # First Winter 2025 table: one row. (Its Archive list links
        # archive/2025-09-01-fall-2024.md, a path that does not exist -- not a row.)
        "semester": "winter-2025",
        "linked": 1,
        "unlinked": [],
    },
    "_pages/reading-group@b583cd2.md": {
        # Same 11 rows as the winter archive post. (Archive list again links the
        # nonexistent archive/2025-09-01-fall-2024.md -- not a schedule row.)
        "semester": "winter-2025",
        "linked": 11,
        "unlinked": [],
    },
}
