//! The text Conclave ships for the desk's pages until the security team writes its own. Written
//! for Conclave; every organisation should adapt it (the console edits each page).

use domain::desk::DeskPage;

pub fn page(page: DeskPage) -> &'static str {
    match page {
        DeskPage::Policy => POLICY,
        DeskPage::Rules => RULES,
        DeskPage::HowToReport => HOW_TO_REPORT,
    }
}

const POLICY: &str = "\
## Our promise to people who report

If you have found a weakness in our systems, we want to hear about it, and we will not treat you as an
adversary for telling us. Reports are read by our security team, not by a ticket robot.

- **You do not need an account.** Reporting works anonymously; you get a receipt code to follow up.
- **We answer quickly.** You hear from a person within three working days, and you can follow every
  step on your report's status page.
- **We will not pursue you** for research that follows the rules of engagement below. If someone else
  raises a complaint about such research, we will make clear that it was authorised.
- **We fix and then we talk.** Once a problem is fixed we agree with you on what gets published and
  whether you want to be named in our hall of fame.
- **Your details stay with the security team.** Any name or email address you give is stored
  encrypted, is visible only to the security team, and is deleted some months after the report closes.
";

const RULES: &str = "\
## Rules of engagement

Please do:

- test only against accounts and data that you own or have explicit permission to use;
- stop as soon as you reach data that is not yours, and tell us what you saw;
- give us a reasonable time to fix the problem before you tell anyone else.

Please do not:

- degrade service for others (no denial-of-service, load or volumetric testing);
- use social engineering, phishing or physical intrusion against our staff or offices;
- keep, share or alter other people's data beyond the minimum needed to show the problem;
- run automated scanners that send thousands of requests without talking to us first.
";

const HOW_TO_REPORT: &str = "\
## What makes a good report

The faster we can reproduce what you found, the faster it gets fixed. Useful things to include:

- the **affected URLs** or endpoints, and the parameter or field involved;
- the **IP addresses** you tested from or against, so we can find your traffic in our logs;
- **timestamps** with a time zone for the requests that show the problem;
- **logs**, requests and responses, or a short proof-of-concept;
- **screenshots or recordings**, if they help.

## Encrypting your report

You may encrypt the whole report to our OpenPGP key, shown on this page with its fingerprint. Paste
the ASCII-armoured message (it starts with `-----BEGIN PGP MESSAGE-----`) into the form's encrypted
report field. Fetch the key with `gpg --locate-keys` or from our key server, check the fingerprint, then
run `gpg --encrypt --armor --recipient <fingerprint> report.txt`.
";
