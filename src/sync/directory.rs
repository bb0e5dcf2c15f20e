//! Reading the whole directory (sync.md §2): every user (`GET …/Users?startIndex=…&count=100`)
//! and every group with its members (`GET …/Groups?…`). The first page of each gives
//! `totalResults`; the other pages are then asked for [`PAGES_AT_ONCE`] at a time, which the
//! host may carry together, each retried as any GET.
//!
//! A partial read plans nothing: a page that fails after its retries, a page holding other
//! than min(100, `totalResults` − `startIndex` + 1) resources, an id that shows twice, or a
//! `totalResults` that changes between pages is a failure naming the page and why. So nobody
//! is ever deprovisioned because a read missed them. A `totalResults` over [`MAX_RESOURCES`]
//! is a failure too, at the first page: a server must not make the plan ask for pages without
//! end.
//!
//! Each page is boiled down at once to compact records (a user's identifiers, state and its
//! resource as JSON text), so that 100,000 users never stand as parsed JSON together.

use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

use crate::json;
use crate::profile::{email_to_look_up, email_value};
use crate::scim::group::{FoundGroup, display_name_of};
use crate::scim::user::{FoundUser, active_of, text_field};
use crate::scim::{Answer, Failure, ScimClient};
use crate::transport::Transport;

/// Resources per page asked for (Atlassian's page size).
pub const PAGE_SIZE: u64 = 100;
/// Pages handed to the host at once: enough for it to keep its connections busy, few enough
/// that their answers, parsed together, stay small.
pub const PAGES_AT_ONCE: usize = 200;
/// The most users (and the most groups) one plan reads: 10,000 pages of each, ten times the
/// largest directories the sync is made for, within the host's sync budget of requests.
pub const MAX_RESOURCES: u64 = 1_000_000;

/// A directory user, as much as the plan needs of it.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryUser {
    pub id: Box<str>,
    pub user_name: Option<Box<str>>,
    /// `externalId` as text (a number as its digits).
    pub external_id: Option<Box<str>>,
    /// `active`; none when absent or unreadable (taken as active, as iam-disable-user does).
    pub active: Option<bool>,
    /// Every e-mail value, in order (what `protect` globs look at).
    pub emails: Vec<Box<str>>,
    /// The primary e-mail: the entry marked primary, else the first (sync.md §3).
    pub primary_email: Option<Box<str>>,
    /// The resource as JSON text, without `meta` and `groups` (read-only, and large).
    pub resource: Box<str>,
}

impl DirectoryUser {
    /// The resource's attributes, parsed again.
    pub fn attributes(&self) -> Map<String, Value> {
        serde_json::from_str(&self.resource).unwrap_or_default()
    }

    /// The user as a person reading a plan knows it: its `userName`, else its id.
    pub fn name(&self) -> &str {
        self.user_name.as_deref().unwrap_or(&self.id)
    }

    /// Not known to be inactive.
    pub fn is_active(&self) -> bool {
        self.active != Some(false)
    }
}

/// A directory group and its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryGroup {
    pub id: Box<str>,
    pub display_name: Option<Box<str>>,
    /// The members that are directory users (their indexes in `Directory::users`), in
    /// directory order.
    pub members: Vec<u32>,
    /// Its memberships as read, whether the member is a listed user or not.
    pub membership_count: u64,
}

/// The directory as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Directory {
    pub users: Vec<DirectoryUser>,
    pub groups: Vec<DirectoryGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Collection {
    Users,
    Groups,
}

impl Collection {
    fn path(self) -> &'static str {
        match self {
            Collection::Users => "Users",
            Collection::Groups => "Groups",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Collection::Users => "user",
            Collection::Groups => "group",
        }
    }
}

/// Read the whole directory, or say which page could not be read and why.
pub fn read<T: Transport>(scim: &mut ScimClient<'_, T>) -> Result<Directory, String> {
    let mut reader = Reader::default();
    let both = [Collection::Users, Collection::Groups];
    let first_pages = both
        .iter()
        .map(|collection| scim.page_url(collection.path(), 1, PAGE_SIZE))
        .collect();
    for (collection, answer) in both.into_iter().zip(scim.get_all(first_pages)) {
        reader.take_page(collection, 1, answer)?;
    }
    // The other pages: the users', then the groups'.
    let totals = reader.totals;
    let mut pages = both.into_iter().flat_map(|collection| {
        let total = totals[collection as usize];
        (1..)
            .map(|page| 1 + page * PAGE_SIZE)
            .take_while(move |&start_index| start_index <= total)
            .map(move |start_index| (collection, start_index))
    });
    loop {
        let chunk: Vec<(Collection, u64)> = pages.by_ref().take(PAGES_AT_ONCE).collect();
        if chunk.is_empty() {
            break;
        }
        let urls = chunk
            .iter()
            .map(|(collection, start_index)| {
                scim.page_url(collection.path(), *start_index, PAGE_SIZE)
            })
            .collect();
        for ((collection, start_index), answer) in chunk.into_iter().zip(scim.get_all(urls)) {
            reader.take_page(collection, start_index, answer)?;
        }
    }
    Ok(reader.finish())
}

/// The pages read so far.
#[derive(Default)]
struct Reader {
    users: Vec<DirectoryUser>,
    /// User id → index in `users`.
    user_ids: HashMap<Box<str>, u32>,
    groups: Vec<ListedGroup>,
    group_ids: HashSet<Box<str>>,
    /// `totalResults` of the first page, by `Collection`.
    totals: [u64; 2],
}

/// A group as listed, its members still as ids.
struct ListedGroup {
    id: Box<str>,
    display_name: Option<Box<str>>,
    member_ids: Vec<Box<str>>,
}

impl Reader {
    /// Take one page's answer, checking it against the first page.
    fn take_page(
        &mut self,
        collection: Collection,
        start_index: u64,
        answer: Result<Answer, Failure>,
    ) -> Result<(), String> {
        let at = |why: String| {
            format!(
                "the {} page at startIndex {start_index}: {why}",
                collection.path()
            )
        };
        let answer = answer.map_err(|failure| {
            at(match failure.code {
                Some(code) => format!("the server answered {code}: {}", failure.message),
                None => failure.message,
            })
        })?;
        let mut list = match answer.body {
            Some(Value::Object(list)) => list,
            Some(_) => return Err(at("the answer is not a SCIM list response".into())),
            None => return Err(at("the answer is empty".into())),
        };
        let total = match list.get("totalResults") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| at("the answer has no usable totalResults".into()))?;
        let first_total = &mut self.totals[collection as usize];
        if start_index == 1 {
            if total > MAX_RESOURCES {
                return Err(at(format!(
                    "totalResults is {total}, more than the {MAX_RESOURCES} {}s one plan reads",
                    collection.noun()
                )));
            }
            *first_total = total;
        } else if total != *first_total {
            return Err(at(format!(
                "totalResults is {total} where the first page said {first_total}"
            )));
        }
        let resources = match list.shift_remove("Resources") {
            Some(Value::Array(resources)) => resources,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(at("\"Resources\" is not a list".into())),
        };
        let expected = (total + 1).saturating_sub(start_index).min(PAGE_SIZE);
        if resources.len() as u64 != expected {
            return Err(at(format!(
                "it holds {} {}s where {expected} were expected (totalResults {total})",
                resources.len(),
                collection.noun()
            )));
        }
        for resource in resources {
            match collection {
                Collection::Users => self.take_user(resource),
                Collection::Groups => self.take_group(resource),
            }
            .map_err(at)?;
        }
        Ok(())
    }

    fn take_user(&mut self, resource: Value) -> Result<(), String> {
        let FoundUser { id, mut resource } = FoundUser::check(resource).map_err(|f| f.message)?;
        if self.user_ids.contains_key(id.as_str()) {
            return Err(format!("the user id {id:?} shows twice"));
        }
        let user_name = match resource.get("userName") {
            Some(Value::String(name)) => Some(name.as_str().into()),
            _ => None,
        };
        let emails = resource.get("emails");
        let primary_email = emails.and_then(email_to_look_up).map(Into::into);
        let emails = match emails {
            Some(Value::Array(entries)) => entries
                .iter()
                .filter_map(email_value)
                .map(Into::into)
                .collect(),
            Some(entry) => email_value(entry).map(Into::into).into_iter().collect(),
            None => Vec::new(),
        };
        let user = DirectoryUser {
            id: id.as_str().into(),
            user_name,
            external_id: text_field(&resource, "externalId").map(Into::into),
            active: active_of(&resource),
            emails,
            primary_email,
            resource: {
                if let Value::Object(attributes) = &mut resource {
                    attributes.shift_remove("meta");
                    attributes.shift_remove("groups");
                }
                json::text(&resource).into_boxed_str()
            },
        };
        self.user_ids
            .insert(id.into_boxed_str(), self.users.len() as u32);
        self.users.push(user);
        Ok(())
    }

    fn take_group(&mut self, resource: Value) -> Result<(), String> {
        let FoundGroup { id, resource } = FoundGroup::check(resource).map_err(|f| f.message)?;
        if self.group_ids.contains(id.as_str()) {
            return Err(format!("the group id {id:?} shows twice"));
        }
        let unusable = || format!("the group {id:?} has members that are not usable");
        let member_ids = match resource.get("members") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(members)) => members
                .iter()
                .map(|member| match member.get("value") {
                    Some(Value::String(value)) if !value.is_empty() => Ok(value.as_str().into()),
                    _ => Err(unusable()),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(unusable()),
        };
        self.groups.push(ListedGroup {
            id: id.as_str().into(),
            display_name: display_name_of(&resource).map(Into::into),
            member_ids,
        });
        self.group_ids.insert(id.into_boxed_str());
        Ok(())
    }

    /// The directory, each group's members as user indexes.
    fn finish(self) -> Directory {
        let Reader {
            users,
            user_ids,
            groups,
            ..
        } = self;
        let groups = groups
            .into_iter()
            .map(|group| {
                let mut ids: Vec<&str> = group.member_ids.iter().map(|id| &**id).collect();
                ids.sort_unstable();
                ids.dedup();
                let mut members: Vec<u32> = ids
                    .iter()
                    .filter_map(|id| user_ids.get(*id).copied())
                    .collect();
                members.sort_unstable();
                DirectoryGroup {
                    id: group.id,
                    display_name: group.display_name,
                    members,
                    membership_count: ids.len() as u64,
                }
            })
            .collect();
        Directory { users, groups }
    }
}
