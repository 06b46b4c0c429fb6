//! The product catalog and per-product scopes.
//!
//! Each product has two scopes, `<product>:read` and `<product>:write`; write implies read.
//! On the wire and in storage a scope is its name; in the key table it is a bit in a
//! [`ScopeSet`] (bit 2i = read of product i, bit 2i+1 = write), so a scope check is one AND.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Most products a catalog may hold (two bits each in a `u64`).
pub const MAX_PRODUCTS: usize = 32;

/// Read or write access to a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// `:read` — GET and HEAD.
    Read,
    /// `:write` — every other method; implies read.
    Write,
}

impl Access {
    /// The suffix after the colon.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// One product the platform sells.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    /// Stable id used in scopes and paths (`payroll`).
    pub id: String,
    /// Display name (`Payroll`).
    pub name: String,
}

/// A scope resolved against the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Index of the product in the catalog.
    pub product: u8,
    /// Read or write.
    pub access: Access,
}

impl Scope {
    const fn bit(self) -> u64 {
        let base = (self.product as u32) * 2;
        match self.access {
            Access::Read => 1 << base,
            Access::Write => 1 << (base + 1),
        }
    }
}

/// A set of scopes as bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(pub u64);

impl ScopeSet {
    /// Adds a scope; write adds read too.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
        if scope.access == Access::Write {
            self.0 |= Scope {
                access: Access::Read,
                ..scope
            }
            .bit();
        }
    }

    /// Whether the set grants `scope`.
    #[inline]
    pub const fn allows(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// Whether the set grants every scope of `required` (true for the empty requirement).
    #[inline]
    pub const fn contains(self, required: ScopeSet) -> bool {
        self.0 & required.0 == required.0
    }

    /// The set that holds exactly `scope` (a requirement, so write does not add read here).
    pub const fn only(scope: Scope) -> Self {
        Self(scope.bit())
    }
}

/// Why a scope name was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// Not `<product>:read` or `<product>:write`.
    #[error(
        "'{0}' is not a scope: write `<product>:read` or `<product>:write`, e.g. `payroll:read`"
    )]
    Malformed(String),
    /// The product is not in the catalog.
    #[error("'{0}' names no product of this platform; GET /v1/products/ lists them")]
    UnknownProduct(String),
}

/// Why a catalog was refused at start-up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// No products.
    #[error("the product catalog is empty")]
    Empty,
    /// More than [`MAX_PRODUCTS`].
    #[error("the product catalog has {0} products; at most {MAX_PRODUCTS} are supported")]
    TooMany(usize),
    /// An id with characters other than `a-z`, `0-9` and `-`.
    #[error("product id '{0}' must be 1-40 characters of a-z, 0-9 and '-'")]
    BadId(String),
    /// Two products with one id.
    #[error("product id '{0}' appears twice")]
    Duplicate(String),
}

/// The products of the platform, in display order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    products: Vec<Product>,
    /// Every scope's name, `[read, write]` per product: built once, so answers that list a
    /// key's scopes borrow them instead of formatting each.
    scope_names: Vec<[String; 2]>,
}

impl Default for Catalog {
    /// The seven products the seeds name.
    fn default() -> Self {
        let products = [
            ("asset", "Asset"),
            ("perks", "Perks"),
            ("payroll", "Payroll"),
            ("talent", "Talent"),
            ("health", "Health"),
            ("payments", "Payments"),
            ("ai-agents", "AI Agents"),
        ]
        .into_iter()
        .map(|(id, name)| Product {
            id: id.into(),
            name: name.into(),
        })
        .collect();
        Self::of(products)
    }
}

impl Catalog {
    /// Validates a configured catalog.
    pub fn new(products: Vec<Product>) -> Result<Self, CatalogError> {
        if products.is_empty() {
            return Err(CatalogError::Empty);
        }
        if products.len() > MAX_PRODUCTS {
            return Err(CatalogError::TooMany(products.len()));
        }
        for (i, p) in products.iter().enumerate() {
            let ok = (1..=40).contains(&p.id.len())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(CatalogError::BadId(p.id.clone()));
            }
            if products.iter().take(i).any(|q| q.id == p.id) {
                return Err(CatalogError::Duplicate(p.id.clone()));
            }
        }
        Ok(Self::of(products))
    }

    fn of(products: Vec<Product>) -> Self {
        let scope_names = products
            .iter()
            .map(|p| [Access::Read, Access::Write].map(|a| format!("{}:{}", p.id, a.as_str())))
            .collect();
        Self {
            products,
            scope_names,
        }
    }

    /// The products, in display order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The index of a product id.
    pub fn product_index(&self, id: &str) -> Option<u8> {
        self.products
            .iter()
            .position(|p| p.id == id)
            .and_then(|i| u8::try_from(i).ok())
    }

    /// Resolves a scope name such as `payroll:write`.
    pub fn parse_scope(&self, name: &str) -> Result<Scope, ScopeError> {
        let (product, access) = name
            .split_once(':')
            .ok_or_else(|| ScopeError::Malformed(name.to_owned()))?;
        let access = match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return Err(ScopeError::Malformed(name.to_owned())),
        };
        let product = self
            .product_index(product)
            .ok_or_else(|| ScopeError::UnknownProduct(name.to_owned()))?;
        Ok(Scope { product, access })
    }

    /// The name of a scope.
    pub fn scope_name(&self, scope: Scope) -> String {
        let id = self
            .products
            .get(usize::from(scope.product))
            .map_or("?", |p| p.id.as_str());
        format!("{id}:{}", scope.access.as_str())
    }

    /// Every scope of every product.
    pub fn all(&self) -> ScopeSet {
        let mut set = ScopeSet::default();
        for i in 0..self.products.len() {
            if let Ok(product) = u8::try_from(i) {
                set.insert(Scope {
                    product,
                    access: Access::Write,
                });
            }
        }
        set
    }

    /// The requirement "this access to every product" (paths that belong to no product).
    pub fn every(&self, access: Access) -> ScopeSet {
        let mut set = ScopeSet::default();
        for i in 0..self.products.len() {
            if let Ok(product) = u8::try_from(i) {
                set.0 |= Scope { product, access }.bit();
            }
        }
        set
    }

    /// Resolves names into a set, failing on the first unknown one.
    pub fn parse_set<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<ScopeSet, ScopeError> {
        let mut set = ScopeSet::default();
        for name in names {
            set.insert(self.parse_scope(name)?);
        }
        Ok(set)
    }

    /// Resolves stored names, skipping any whose product has left the catalog since.
    pub fn parse_stored<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> ScopeSet {
        let mut set = ScopeSet::default();
        for scope in names.into_iter().filter_map(|n| self.parse_scope(n).ok()) {
            set.insert(scope);
        }
        set
    }

    /// The canonical names of a set, in catalog order, read before write.
    pub fn names(&self, set: ScopeSet) -> Vec<String> {
        self.names_of(set).map(str::to_owned).collect()
    }

    /// The names of [`Self::names`], borrowed from the catalog (no allocation).
    pub fn names_of(&self, set: ScopeSet) -> impl Iterator<Item = &str> + '_ {
        self.scope_names
            .iter()
            .zip(0..=u8::MAX)
            .flat_map(|([read, write], product)| {
                [(Access::Read, read), (Access::Write, write)]
                    .map(|(access, name)| (Scope { product, access }, name))
            })
            .filter(move |(scope, _)| set.allows(*scope))
            .map(|(_, name)| name.as_str())
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalog_is_the_seeds_seven_products() {
        let ids: Vec<_> = Catalog::default()
            .products()
            .iter()
            .map(|p| p.id.clone())
            .collect();
        assert_eq!(
            ids,
            [
                "asset",
                "perks",
                "payroll",
                "talent",
                "health",
                "payments",
                "ai-agents"
            ]
        );
    }

    #[test]
    fn write_implies_read_but_not_the_reverse() {
        let c = Catalog::default();
        let set = c.parse_set(["payroll:write", "asset:read"]).unwrap();
        assert!(set.allows(c.parse_scope("payroll:read").unwrap()));
        assert!(set.allows(c.parse_scope("payroll:write").unwrap()));
        assert!(set.allows(c.parse_scope("asset:read").unwrap()));
        assert!(!set.allows(c.parse_scope("asset:write").unwrap()));
        assert!(!set.allows(c.parse_scope("health:read").unwrap()));
        assert_eq!(
            c.names(set),
            ["asset:read", "payroll:read", "payroll:write"]
        );
    }

    #[test]
    fn unknown_and_malformed_scopes_are_named() {
        let c = Catalog::default();
        assert_eq!(
            c.parse_scope("crm:read"),
            Err(ScopeError::UnknownProduct("crm:read".into()))
        );
        assert_eq!(
            c.parse_scope("payroll"),
            Err(ScopeError::Malformed("payroll".into()))
        );
        assert_eq!(
            c.parse_scope("payroll:admin"),
            Err(ScopeError::Malformed("payroll:admin".into()))
        );
    }

    #[test]
    fn bad_catalogs_are_refused() {
        let p = |id: &str| Product {
            id: id.into(),
            name: id.into(),
        };
        assert_eq!(Catalog::new(vec![]), Err(CatalogError::Empty));
        assert_eq!(
            Catalog::new(vec![p("Pay Roll")]),
            Err(CatalogError::BadId("Pay Roll".into()))
        );
        assert_eq!(
            Catalog::new(vec![p("a"), p("a")]),
            Err(CatalogError::Duplicate("a".into()))
        );
        let many: Vec<_> = (0..33).map(|i| p(&format!("p{i}"))).collect();
        assert_eq!(Catalog::new(many), Err(CatalogError::TooMany(33)));
    }
}
